package ai.attune.kernels.conformance;

import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.Tensor;

import java.util.Arrays;
import java.util.Random;

/**
 * One op applied to floating inputs of given shapes. {@code fn} builds the op from the inputs on
 * a backend (integer operands such as ids are made inside it); inputs are drawn from {@code domain}
 * so the op is smooth around them (e.g. log sees positive values, relu none near 0).
 */
public record OpCase(String name, int[][] shapes, Domain domain, Op fn) {
    @FunctionalInterface
    public interface Op {
        Tensor apply(Backend be, Tensor[] in);
    }

    /** Where inputs are drawn from. */
    public enum Domain {
        /** uniform in (-1, 1) */
        ANY,
        /** uniform in (0.5, 2) */
        POSITIVE,
        /** magnitude in (0.1, 1), random sign: away from the kinks at 0 */
        AWAY_FROM_ZERO;

        double draw(Random r) {
            return switch (this) {
                case ANY -> r.nextDouble() * 2 - 1;
                case POSITIVE -> 0.5 + 1.5 * r.nextDouble();
                case AWAY_FROM_ZERO -> (0.1 + 0.9 * r.nextDouble()) * (r.nextBoolean() ? 1 : -1);
            };
        }
    }

    /** Seeded input values, one array per input. */
    public double[][] inputs(long seed) {
        Random r = new Random(seed ^ name.hashCode());
        double[][] out = new double[shapes.length][];
        for (int i = 0; i < shapes.length; i++) {
            long n = 1;
            for (int d : shapes[i]) {
                n *= d;
            }
            out[i] = new double[(int) n];
            for (int j = 0; j < n; j++) {
                out[i][j] = domain.draw(r);
            }
        }
        return out;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(name);
        for (int[] s : shapes) {
            sb.append(' ').append(Arrays.toString(s));
        }
        return sb.toString();
    }
}
