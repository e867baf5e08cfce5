package ai.attune.kernels.jvm.gemm;

import java.util.Arrays;

/**
 * Packing: copies a block of op(A) or op(B) into the order the micro-kernel walks it, widened to
 * f32. A block is cut into panels of {@code width} lines (MR rows of A, or NR columns of B); panel
 * q holds, for each p in 0..kc, its {@code width} values at that p side by side. The micro-kernel
 * then streams both panels with unit stride, and the copy is paid once per block instead of once
 * per tile. Lines past the edge of the matrix are packed as zeros so every tile runs the full
 * MR x NR kernel without changing the result.
 */
final class Packing {

    private Packing() {
    }

    /** Packs op(A)[i0 .. i0+mc) x [p0 .. p0+kc) into MR-row panels. */
    static void packA(Operand a, int i0, int mc, int p0, int kc, Workspace ws) {
        // A's rows are stored rows unless A is transposed.
        pack(a, !a.trans(), i0, mc, p0, kc, MicroKernel.MR, ws.packedA, ws);
    }

    /** Packs op(B)[p0 .. p0+kc) x [j0 .. j0+nc) into NR-column panels. */
    static void packB(Operand b, int p0, int kc, int j0, int nc, Workspace ws) {
        // B's columns are stored rows only when B is transposed.
        pack(b, b.trans(), j0, nc, p0, kc, MicroKernel.NR, ws.packedB, ws);
    }

    /**
     * Packs lines x0 .. x0+extent (rows of A / columns of B) over k range p0 .. p0+kc into panels of
     * {@code width} lines. {@code linesAreStored} says whether a line is a stored row of the operand
     * (so it is read as one contiguous run and scattered with stride {@code width}); otherwise each
     * p is a stored row holding all the lines side by side, read once and cut into panel chunks.
     * Either way memory is read in long contiguous runs.
     */
    private static void pack(Operand op, boolean linesAreStored, int x0, int extent, int p0, int kc,
                             int width, float[] dst, Workspace ws) {
        int panelSize = kc * width;
        int padded = (extent + width - 1) / width * width;
        float[] run = ws.run;
        if (linesAreStored) {
            for (int x = 0; x < extent; x++) {
                op.readRun(op.index(x0 + x, p0), kc, run, 0, ws.shorts);
                int d = (x / width) * panelSize + x % width;
                for (int p = 0; p < kc; p++) {
                    dst[d + p * width] = run[p];
                }
            }
            for (int x = extent; x < padded; x++) {
                int d = (x / width) * panelSize + x % width;
                for (int p = 0; p < kc; p++) {
                    dst[d + p * width] = 0f;
                }
            }
        } else {
            int panels = padded / width;
            for (int p = 0; p < kc; p++) {
                op.readRun(op.index(p0 + p, x0), extent, run, 0, ws.shorts);
                for (int q = 0; q < panels; q++) {
                    int src = q * width;
                    int d = q * panelSize + p * width;
                    int w = Math.min(width, extent - src);
                    System.arraycopy(run, src, dst, d, w);
                    if (w < width) {
                        Arrays.fill(dst, d + w, d + width, 0f);
                    }
                }
            }
        }
    }
}
