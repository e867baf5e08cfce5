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
 *         for jr in nc step NR     B micro-panel KC x NR stays in L1 across the ir loop
 *           for ir in mc step MR   micro-kernel: MR x NR of C in registers
 * </pre>
 */
final class BlockedGemm {

    /**
     * Depth of a rank-KC update. Deeper than the textbook "B micro-panel fits L1": with two vector
     * loads per MR*NR/V FMAs the kernel streams B happily from L2, while every extra KC pass costs
     * a read-modify-write of all of C. 512 measured best on Zen 4/5 (256: -15%, 1024: same).
     */
    static final int KC = 512;
    /** Rows of the packed A block: MC x KC floats (192 KiB) stay in L2; a whole number of MR panels. */
    static final int MC = MR * Math.max(1, 96 / MR);
    /** Columns of the packed B block: KC x NC floats (2 MiB) stay in L3; a whole number of NR panels. */
    static final int NC = NR * Math.max(1, 1024 / NR);

    private BlockedGemm() {
    }

    /**
     * C[i0..i1) x [j0..j1) = alpha * op(A) op(B) + beta * C over the full k range; rows and
     * columns are absolute indices into C. Requires k > 0 and alpha != 0 (the caller handles the
     * degenerate cases by scaling C).
     */
    static void run(Operand a, Operand b, int i0, int i1, int j0, int j1, int k, float alpha, float beta,
                    MemorySegment c, long cOff, int ldc, Workspace ws) {
        // Equal k blocks: k = KC + 1 as 256 + 1 would spend a whole C read-modify-write on one step.
        int kBlocks = (k + KC - 1) / KC;
        int kcStep = (k + kBlocks - 1) / kBlocks;
        for (int jc = j0; jc < j1; jc += NC) {
            int nc = Math.min(NC, j1 - jc);
            for (int pc = 0; pc < k; pc += kcStep) {
                int kc = Math.min(kcStep, k - pc);
                Packing.packB(b, pc, kc, jc, nc, ws);
                // beta applies once, on the first rank-kc update; later ones accumulate.
                float betaNow = pc == 0 ? beta : 1f;
                for (int ic = i0; ic < i1; ic += MC) {
                    int mc = Math.min(MC, i1 - ic);
                    Packing.packA(a, ic, mc, pc, kc, ws);
                    macroKernel(kc, mc, nc, ws, c, cOff + (long) ic * ldc + jc, ldc, alpha, betaNow);
                }
            }
        }
    }

    /**
     * Runs the micro-kernel over every MR x NR tile of the packed blocks. Before each tile it
     * touches the C lines of the next one: Java has no prefetch instruction, and without this the
     * write-back's loads (or, for beta == 0, its store misses) stall for a full memory round trip
     * per line, which measured as a quarter of the runtime at KC = 256. A load issued one tile
     * early overlaps with the tile's k loop instead.
     */
    private static void macroKernel(int kc, int mc, int nc, Workspace ws, MemorySegment c, long cOff, int ldc,
                                    float alpha, float beta) {
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
                MicroKernel.writeBack(tile, c, cOff + (long) ir * ldc + jr, ldc, rows, cols, alpha, beta);
            }
        }
        // Publishing the sum keeps the JIT from discarding the touching loads as dead.
        ws.touchSink = touched;
    }

    /** Loads the first and last float of each row of a C tile, pulling its cache lines in. */
    private static int touch(MemorySegment c, long off, int ldc, int rows, int cols) {
        int sum = 0;
        long at = off * Float.BYTES;
        long last = (cols - 1L) * Float.BYTES;
        long rowBytes = (long) ldc * Float.BYTES;
        for (int r = 0; r < rows; r++, at += rowBytes) {
            sum += c.get(ValueLayout.JAVA_INT_UNALIGNED, at) + c.get(ValueLayout.JAVA_INT_UNALIGNED, at + last);
        }
        return sum;
    }
}
