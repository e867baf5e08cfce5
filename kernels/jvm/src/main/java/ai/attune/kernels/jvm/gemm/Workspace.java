package ai.attune.kernels.jvm.gemm;

/**
 * Per-thread scratch of the blocked GEMM: the packed A block (MC x KC, L2-sized), the packed B
 * block (KC x NC, L3-sized) and a staging row for packing. Allocated once and recycled through
 * the owning {@link Gemm}, since a fresh 4 MiB zeroed array per call would cost more than a small
 * GEMM itself.
 */
final class Workspace {

    final float[] packedA = new float[BlockedGemm.MC * BlockedGemm.KC];
    final float[] packedB = new float[BlockedGemm.KC * BlockedGemm.NC];
    /** One contiguous run of an operand, widened to f32: at most one KC, MC or NC extent. */
    final float[] run = new float[Math.max(BlockedGemm.KC, Math.max(BlockedGemm.MC, BlockedGemm.NC))];
    /** A group of lines being transposed into a panel: {@link Packing#DEPTH} k steps each. */
    final float[] stage = new float[16 * Packing.STAGE_STRIDE];
    /** Raw 16-bit elements of the run being widened. */
    final short[] shorts = new short[run.length];
    /** One micro-kernel result, MR x NR, on its way to C. */
    final float[] tile = new float[MicroKernel.MR * MicroKernel.NR];
    /** Where {@link BlockedGemm} parks the values it loads only to warm the cache. */
    int touchSink;
}
