package ai.attune.kernels.jvm;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * One [batch, heads, rows, d] operand of attention (or a [batch, heads, rows] one such as lse, seen
 * with d = 1), copied a tile of rows at a time between its strided storage and a heap array. The
 * kernels only ever compute on those tiles, so this is the one place that deals with strided views
 * (q as a transpose of [b, s, h, d]) and with widening bf16/f16 to f32: once per tile, not once
 * per multiply. Strides {@code sb, sh, sr, sd} are in elements, for batch, head, row and feature.
 */
record AttentionOperand(MemorySegment seg, DType dtype, long offset, long sb, long sh, long sr, long sd) {

    static AttentionOperand of(Tensor t) {
        long[] st = t.strides();
        if (t.rank() == 3) {
            return new AttentionOperand(Elementwise.seg(t), t.dtype(), t.offset(), st[0], st[1], st[2], 0);
        }
        return new AttentionOperand(Elementwise.seg(t), t.dtype(), t.offset(), st[0], st[1], st[2], st[3]);
    }

    private long index(int b, int h, int row) {
        return offset + b * sb + h * sh + row * sr;
    }

    /** Element 0 of a row: the value of a [batch, heads, rows] operand. */
    double get(int b, int h, int row) {
        return Elements.get(seg, dtype, index(b, h, row));
    }

    void set(int b, int h, int row, double value) {
        Elements.set(seg, dtype, index(b, h, row), value);
    }

    // ---- f32 tiles ----

    /** {@code dst[dstOff + r*ld + p] = mul * x[row0 + r, p]} for r < rows, p < d; other entries are left alone. */
    void load(int b, int h, int row0, int rows, int d, float mul, float[] dst, int dstOff, int ld) {
        for (int r = 0; r < rows; r++) {
            long at = index(b, h, row0 + r);
            int o = dstOff + r * ld;
            if (dtype == DType.F32 && sd == 1) {
                MemorySegment.copy(seg, Elements.F32, at * Float.BYTES, dst, o, d);
            } else {
                readRow(at, d, dst, o, 1);
            }
            if (mul != 1f) {
                for (int p = 0; p < d; p++) {
                    dst[o + p] *= mul;
                }
            }
        }
    }

    /** {@code dst[p*ld + r] = x[row0 + r, p]} for p < d, r < rows, and zero for rows <= r < ld. */
    void loadTransposed(int b, int h, int row0, int rows, int d, float[] dst, int ld) {
        for (int r = 0; r < rows; r++) {
            readRow(index(b, h, row0 + r), d, dst, r, ld);
        }
        for (int p = 0; p < d; p++) {
            Arrays.fill(dst, p * ld + rows, p * ld + ld, 0f);
        }
    }

    /** {@code x[row0 + r, p] = mul * src[srcOff + r*ld + p]} for r < rows, p < d, rounded to the dtype. */
    void store(int b, int h, int row0, int rows, int d, float mul, float[] src, int srcOff, int ld) {
        for (int r = 0; r < rows; r++) {
            long at = index(b, h, row0 + r);
            int o = srcOff + r * ld;
            if (dtype == DType.F32) {
                for (int p = 0; p < d; p++) {
                    seg.setAtIndex(Elements.F32, at + p * sd, mul * src[o + p]);
                }
            } else {
                for (int p = 0; p < d; p++) {
                    Elements.set(seg, dtype, at + p * sd, mul * src[o + p]);
                }
            }
        }
    }

    /** {@code dst[off + p*step] = x[at + p*sd]} for p < d, widened to f32, with the dtype switch outside the loop. */
    private void readRow(long at, int d, float[] dst, int off, int step) {
        switch (dtype) {
            case F32 -> {
                for (int p = 0; p < d; p++) {
                    dst[off + p * step] = seg.getAtIndex(Elements.F32, at + p * sd);
                }
            }
            case BF16 -> {
                for (int p = 0; p < d; p++) {
                    dst[off + p * step] = Elements.bf16ToFloat(seg.getAtIndex(Elements.I16, at + p * sd));
                }
            }
            case F16 -> {
                for (int p = 0; p < d; p++) {
                    dst[off + p * step] = Float.float16ToFloat(seg.getAtIndex(Elements.I16, at + p * sd));
                }
            }
            default -> {
                for (int p = 0; p < d; p++) {
                    dst[off + p * step] = (float) Elements.get(seg, dtype, at + p * sd);
                }
            }
        }
    }

    // ---- f64 tiles: the same three moves without narrowing ----

    void load(int b, int h, int row0, int rows, int d, double mul, double[] dst, int dstOff, int ld) {
        for (int r = 0; r < rows; r++) {
            long at = index(b, h, row0 + r);
            int o = dstOff + r * ld;
            for (int p = 0; p < d; p++) {
                dst[o + p] = mul * Elements.get(seg, dtype, at + p * sd);
            }
        }
    }

    void loadTransposed(int b, int h, int row0, int rows, int d, double[] dst, int ld) {
        for (int r = 0; r < rows; r++) {
            long at = index(b, h, row0 + r);
            for (int p = 0; p < d; p++) {
                dst[p * ld + r] = Elements.get(seg, dtype, at + p * sd);
            }
        }
        for (int p = 0; p < d; p++) {
            Arrays.fill(dst, p * ld + rows, p * ld + ld, 0d);
        }
    }

    void store(int b, int h, int row0, int rows, int d, double mul, double[] src, int srcOff, int ld) {
        for (int r = 0; r < rows; r++) {
            long at = index(b, h, row0 + r);
            int o = srcOff + r * ld;
            for (int p = 0; p < d; p++) {
                Elements.set(seg, dtype, at + p * sd, mul * src[o + p]);
            }
        }
    }
}
