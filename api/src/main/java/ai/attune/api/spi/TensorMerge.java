package ai.attune.api.spi;

/**
 * The merge of one tensor, fed in chunks of its row-major elements, every input's chunk side by
 * side as f32. A method that needs whole-tensor statistics first (a magnitude threshold, a norm)
 * asks for {@link #passes()} read-only passes over all chunks before {@link #combine} is called.
 */
public interface TensorMerge {
    /** Statistics passes before the output: 0 for elementwise methods. */
    default int passes() {
        return 0;
    }

    /**
     * Sees one chunk during statistics pass {@code pass}.
     *
     * @param offset index of the chunk's first element in the tensor
     * @param inputs per input, its chunk: {@code inputs[i][0..n)}
     */
    default void observe(int pass, long offset, float[][] inputs, int n) {}

    /** Called after the last chunk of statistics pass {@code pass}. */
    default void endPass(int pass) {}

    /** Writes the merged chunk: {@code out[0..n)} for elements {@code offset..offset+n}. Chunks come in order. */
    void combine(long offset, float[][] inputs, int n, float[] out);
}
