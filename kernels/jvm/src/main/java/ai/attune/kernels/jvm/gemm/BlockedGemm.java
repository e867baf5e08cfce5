package ai.attune.kernels.jvm.gemm;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static ai.attune.kernels.jvm.gemm.MicroKernel.MR;
import static ai.attune.kernels.jvm.gemm.MicroKernel.NR;

/**
 * The GotoBLAS/BLIS loop nest around the micro-kernel, for one tile of C on one thread:
 * <pre>
 *   for jc in n step NC        B block KC x NC  -> packed once, stays in L3
 *     for pc in k step KC
 *       for ic in m step MC    A block MC x KC  -> packed once, stays in L2
 *         for jr in nc step NR     B micro-panel KC x NR, reused from L2 across the ir loop
 *           for ir in mc step MR   micro-kernel: MR x NR of C in registers
 * </pre>
 * Block sizes were tuned on the 2-core AMD EPYC (Zen 4-class, 1 MiB L2 per core) development
 * machine; they are plain constants because the kernel is not sensitive to them within 2x.
 */
final class BlockedGemm {

    /**
     * Depth of a rank-KC update. Far deeper than the textbook "B micro-panel fits L1": the kernel
     * does 24 FMAs per 4 vector loads and streams B from L2 without stalling, while every KC pass
     * costs a read-modify-write of all of C. Measured for 1024^3 on one core: KC 256 -> ~85,
     * 512 -> ~93, 1024 -> ~98 GFLOP/s.
     */
    static final int KC = 1024;
    /** Rows of the packed A block: MC x KC floats (192 KiB) stay in L2 next to a B micro-panel (256 KiB). */
    static final int MC = MR * Math.max(1, 48 / MR);
    /** Columns of the packed B block: KC x NC floats (4 MiB) stay in L3; a whole number of NR panels. */
    static final int NC = NR * Math.max(1, 1024 / NR);

    private static final int CACHE_LINE = 64;

    private BlockedGemm() {
    }

    /**
     * C[i0..i1) x [j0..j1) = alpha * op(A) op(B) + beta * C over the full k range, plus
     * {@code bias[j]} (at element {@code biasOff + j}) when bias is not null; rows and columns are
     * absolute indices into C. Requires k > 0 and alpha != 0 (the caller handles the degenerate
     * cases by scaling C).
     */
    static void run(Operand a, Operand b, int i0, int i1, int j0, int j1, int k, float alpha, float beta,
                    MemorySegment c, long cOff, int ldc, MemorySegment bias, long biasOff, Workspace ws) {
        // Equal blocks rather than full ones and a sliver: k = KC + 1 as KC + 1 would spend a whole
        // C read-modify-write on one step, and n = NC + 1 would repack all of A for one column.
        int kcStep = evenStep(k, KC, 1);
        int ncStep = evenStep(j1 - j0, NC, NR);
        for (int jc = j0; jc < j1; jc += ncStep) {
            int nc = Math.min(ncStep, j1 - jc);
            for (int pc = 0; pc < k; pc += kcStep) {
                int kc = Math.min(kcStep, k - pc);
                Packing.packB(b, pc, kc, jc, nc, ws);
                // beta applies once, on the first rank-kc update; later ones accumulate.
                float betaNow = pc == 0 ? beta : 1f;
                // The bias joins on the last one, after the whole sum: the bits of a GEMM then an add.
                boolean last = pc + kc >= k;
                for (int ic = i0; ic < i1; ic += MC) {
                    int mc = Math.min(MC, i1 - ic);
                    Packing.packA(a, ic, mc, pc, kc, ws);
                    macroKernel(kc, mc, nc, ws, c, cOff + (long) ic * ldc + jc, ldc, alpha, betaNow,
                            last ? bias : null, biasOff + jc);
                }
            }
        }
    }

    /** Step that cuts {@code extent} into equal blocks of at most {@code max}, rounded up to {@code unit}. */
    private static int evenStep(int extent, int max, int unit) {
        int blocks = (extent + max - 1) / max;
        int step = (extent + blocks - 1) / blocks;
        return Math.min(max, (step + unit - 1) / unit * unit);
    }

    /**
     * Runs the micro-kernel over every MR x NR tile of the packed blocks. Before each tile it
     * touches the C lines of the next one: Java has no prefetch instruction, and without this the
     * write-back's loads (or, for beta == 0, its store misses) stall for a full memory round trip
     * per line, which measured as a quarter of the runtime at KC = 256. A load issued one tile
     * early overlaps with the tile's k loop instead.
     */
    private static void macroKernel(int kc, int mc, int nc, Workspace ws, MemorySegment c, long cOff, int ldc,
                                    float alpha, float beta, MemorySegment bias, long biasOff) {
        float[] pa = ws.packedA;
        float[] pb = ws.packedB;
        float[] tile = ws.tile;
        int touched = 0;
        for (int jr = 0; jr < nc; jr += NR) {
            int cols = Math.min(NR, nc - jr);
            int bBase = (jr / NR) * kc * NR;
            for (int ir = 0; ir < mc; ir += MR) {
                int rows = Math.min(MR, mc - ir);
                int nextIr = ir + MR < mc ? ir + MR : 0;
                int nextJr = ir + MR < mc ? jr : jr + NR;
                if (nextJr < nc) {
                    touched += touch(c, cOff + (long) nextIr * ldc + nextJr, ldc,
                            Math.min(MR, mc - nextIr), Math.min(NR, nc - nextJr));
                }
                MicroKernel.multiply(kc, pa, (ir / MR) * kc * MR, pb, bBase, tile);
                MicroKernel.writeBack(tile, c, cOff + (long) ir * ldc + jr, ldc, rows, cols, alpha, beta,
                        bias, biasOff + jr);
            }
        }
        // Publishing the sum keeps the JIT from discarding the touching loads as dead.
        ws.touchSink = touched;
    }

    /** Loads one float from every 64-byte cache line a C tile covers, pulling the lines in. */
    private static int touch(MemorySegment c, long off, int ldc, int rows, int cols) {
        int sum = 0;
        long at = off * Float.BYTES;
        long end = (long) cols * Float.BYTES;
        long rowBytes = (long) ldc * Float.BYTES;
        for (int r = 0; r < rows; r++, at += rowBytes) {
            for (long j = 0; j < end; j += CACHE_LINE) {
                sum += c.get(ValueLayout.JAVA_INT_UNALIGNED, at + j);
            }
            sum += c.get(ValueLayout.JAVA_INT_UNALIGNED, at + end - Float.BYTES); // the row may straddle one more line
        }
        return sum;
    }
}
