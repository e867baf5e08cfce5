package ai.attune.kernels.jvm.gemm;

import java.util.Arrays;

import jdk.incubator.vector.FloatVector;

import static ai.attune.kernels.jvm.gemm.MicroKernel.SPECIES;
import static ai.attune.kernels.jvm.gemm.MicroKernel.V;

/**
 * Packing: copies a block of op(A) or op(B) into the order the micro-kernel walks it, widened to
 * f32. A block is cut into panels of {@code width} lines (MR rows of A, or NR columns of B); panel
 * q holds, for each p in 0..kc, its {@code width} values at that p side by side. The micro-kernel
 * then streams both panels with unit stride, and the copy is paid once per block instead of once
 * per tile. Lines past the edge of the matrix are packed as zeros: their products only reach tile
 * rows or columns that the write-back discards, and zeros keep stale NaNs or denormals out of the
 * arithmetic.
 */
final class Packing {

    /** Lines transposed together: 16 floats, one 64-byte cache line of packed output per k step. */
    private static final int GROUP = 16;
    /** k steps staged per round; GROUP x DEPTH floats (16 KiB) stay in L1 while they are transposed. */
    static final int DEPTH = 256;
    /** Odd row stride of the stage, so the column walk of the transpose does not hit one cache set. */
    static final int STAGE_STRIDE = DEPTH + 1;

    private Packing() {
    }

    /** Packs op(A)[i0 .. i0+mc) x [p0 .. p0+kc) into MR-row panels. */
    static void packA(Operand a, int i0, int mc, int p0, int kc, Workspace ws) {
        // A's rows are stored rows unless A is transposed.
        if (a.trans()) {
            packAcross(a, i0, mc, p0, kc, MicroKernel.MR, ws.packedA, ws);
        } else {
            packAlong(a, i0, mc, p0, kc, MicroKernel.MR, ws.packedA, ws);
        }
    }

    /** Packs op(B)[p0 .. p0+kc) x [j0 .. j0+nc) into NR-column panels. */
    static void packB(Operand b, int p0, int kc, int j0, int nc, Workspace ws) {
        // B's columns are stored rows only when B is transposed.
        if (b.trans()) {
            packAlong(b, j0, nc, p0, kc, MicroKernel.NR, ws.packedB, ws);
        } else {
            packAcross(b, j0, nc, p0, kc, MicroKernel.NR, ws.packedB, ws);
        }
    }

    /**
     * Lines are stored rows (A as stored, or B transposed): line x holds its kc values
     * contiguously, but a panel wants them interleaved with the other lines'. Rather than scatter
     * each value to its own cache line of the panel, a group of lines is staged in L1 and
     * transposed from there, so the panel is written one full cache line at a time.
     */
    private static void packAlong(Operand op, int x0, int extent, int p0, int kc, int width, float[] dst,
                                  Workspace ws) {
        float[] stage = ws.stage;
        int panelSize = kc * width;
        for (int q = 0; q * width < extent; q++) {
            int lines = Math.min(width, extent - q * width);
            int panel = q * panelSize;
            for (int g = 0; g < width; g += GROUP) {
                int group = Math.min(GROUP, width - g);
                int filled = Math.max(0, Math.min(group, lines - g)); // lines of this group inside the matrix
                for (int pb = 0; pb < kc; pb += DEPTH) {
                    int depth = Math.min(DEPTH, kc - pb);
                    for (int x = 0; x < filled; x++) {
                        op.readRun(op.index(x0 + q * width + g + x, p0 + pb), depth, stage, x * STAGE_STRIDE, ws.shorts);
                    }
                    for (int p = 0; p < depth; p++) {
                        int d = panel + (pb + p) * width + g;
                        for (int x = 0; x < filled; x++) {
                            dst[d + x] = stage[x * STAGE_STRIDE + p];
                        }
                        for (int x = filled; x < group; x++) {
                            dst[d + x] = 0f;
                        }
                    }
                }
            }
        }
    }

    /**
     * Lines run across stored rows (A transposed, or B as stored): stored row p holds the values of
     * all lines at that p side by side, so each row is read once and cut into panel-wide chunks.
     */
    private static void packAcross(Operand op, int x0, int extent, int p0, int kc, int width, float[] dst,
                                   Workspace ws) {
        float[] run = ws.run;
        int panelSize = kc * width;
        int panels = (extent + width - 1) / width;
        int full = extent / width;
        for (int p = 0; p < kc; p++) {
            op.readRun(op.index(p0 + p, x0), extent, run, 0, ws.shorts);
            int d = p * width;
            for (int q = 0; q < full; q++, d += panelSize) {
                copy(run, q * width, dst, d, width);
            }
            if (full < panels) {
                int w = extent - full * width;
                System.arraycopy(run, full * width, dst, d, w);
                Arrays.fill(dst, d + w, d + width, 0f);
            }
        }
    }

    /** A panel-wide chunk: whole vectors when the width allows (B's NR), else the arraycopy intrinsic. */
    private static void copy(float[] src, int from, float[] dst, int to, int width) {
        if (width % V != 0) {
            System.arraycopy(src, from, dst, to, width);
            return;
        }
        for (int i = 0; i < width; i += V) {
            FloatVector.fromArray(SPECIES, src, from + i).intoArray(dst, to + i);
        }
    }
}
