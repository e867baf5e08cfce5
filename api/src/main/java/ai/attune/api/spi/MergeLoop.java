package ai.attune.api.spi;

import java.io.IOException;

/**
 * The one loop that drives a {@link TensorMerge}: its statistics passes, then the output, chunk by
 * chunk in element order. The host runs it over files; tests run it over arrays.
 */
public final class MergeLoop {
    /** Reads elements {@code offset..offset+n} of every input into {@code dst[i][0..n)}. */
    @FunctionalInterface
    public interface Inputs {
        void read(long offset, int n, float[][] dst) throws IOException;
    }

    /** Takes the next {@code n} merged elements. */
    @FunctionalInterface
    public interface Output {
        void write(float[] merged, int n) throws IOException;
    }

    private MergeLoop() {}

    /** Merges one tensor of {@code numel} elements from {@code inputs} sources, {@code chunk} elements at a time. */
    public static void run(TensorMerge merge, long numel, int inputs, int chunk, Inputs in, Output out) throws IOException {
        int size = (int) Math.min(chunk, Math.max(numel, 1)); // a small tensor gets small buffers
        float[][] buffers = new float[inputs][size];
        float[] merged = new float[size];
        for (int pass = 0; pass < merge.passes(); pass++) {
            for (long offset = 0; offset < numel; offset += size) {
                int n = (int) Math.min(size, numel - offset);
                in.read(offset, n, buffers);
                merge.observe(pass, offset, buffers, n);
            }
            merge.endPass(pass);
        }
        for (long offset = 0; offset < numel; offset += size) {
            int n = (int) Math.min(size, numel - offset);
            in.read(offset, n, buffers);
            merge.combine(offset, buffers, n, merged);
            out.write(merged, n);
        }
    }

    /** Merges in-memory values: {@code values[i]} is input {@code i}, row-major. */
    public static float[] run(Merger merger, MergeTensor tensor, float[][] values, int chunk) {
        merger.check(tensor);
        float[] result = new float[(int) tensor.numel()];
        int[] at = {0};
        try {
            run(merger.begin(tensor), tensor.numel(), values.length, chunk,
                    (offset, n, dst) -> {
                        for (int i = 0; i < values.length; i++) {
                            System.arraycopy(values[i], (int) offset, dst[i], 0, n);
                        }
                    },
                    (merged, n) -> {
                        System.arraycopy(merged, 0, result, at[0], n);
                        at[0] += n;
                    });
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e); // arrays do not fail
        }
        return result;
    }
}
