package ai.attune.plugins.merge.taskarithmetic;

import ai.attune.api.spi.MergeTensor;

import java.nio.charset.StandardCharsets;

/**
 * DARE's drop and rescale (Yu et al. 2024): every entry of τ is kept independently with
 * probability {@code density}, and kept entries are divided by {@code density} when
 * {@code rescale} (the paper's rule; mergekit's current code rescales to τ's L1 norm instead, which
 * equals it in expectation).
 *
 * <p>The draws are a pure function of (seed, tensor name, model index, element index): the same
 * seed gives the same bits, in any chunking and on any machine.
 */
final class RandomSparsifier implements Sparsifier {
    @Override
    public void check(MergeTensor t, int input) {
        double d = Sparsifier.density(t, input);
        if (d == 0 && t.booleanParameter("rescale")) {
            throw new IllegalArgumentException("density 0 with rescale divides by 0");
        }
    }

    @Override
    public Sparsification begin(MergeTensor t, int input, boolean rescale) {
        double density = Sparsifier.density(t, input);
        if (density >= 1) {
            return KEEP_ALL;
        }
        long stream = mix(mix(t.seed() ^ 0x5DEECE66DL) ^ fnv1a(t.name())) ^ (input + 1) * 0x9E3779B97F4A7C15L;
        float scale = (float) density;
        return (index, tau) -> {
            double u = (mix(stream + index * 0xBF58476D1CE4E5B9L) >>> 11) * 0x1.0p-53;
            if (u >= density) {
                return 0f;
            }
            return rescale ? tau / scale : tau;
        };
    }

    /** SplitMix64's finaliser: a bijective 64-bit mix. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private static long fnv1a(String s) {
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xff)) * 0x100000001b3L;
        }
        return h;
    }
}
