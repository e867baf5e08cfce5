package ai.attune.kernels.jvm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * The f32 attention kernel (f32, bf16 and f16 inputs, widened to f32 per tile), on the Vector API.
 *
 * <p>Every product is one shape, {@link #mulAdd}: a row of C accumulates broadcast scalars of A
 * times contiguous rows of B, so it vectorises along C's rows and never reduces across lanes.
 * Scores S = Q K^T therefore use K transposed ([d, W] tiles), and the outputs O += P V,
 * dV += P^T dO, dK += dS^T Q, dQ += dS K use row tiles ([rows, dp]). To leave no scalar tails,
 * rows of d features are padded with zeros to dp (a multiple of the vector length) and key tiles
 * to W columns; padded features contribute zero products and padded keys get probability zero
 * through a -inf bias.
 */
final class AttentionF32 implements Attention.Kernel<AttentionF32.Forward, AttentionF32.Backward> {
    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = SPECIES.length();
    private static final float NEG_INF = Float.NEGATIVE_INFINITY;

    private final Attention.Call c;
    private final int d, dp, br, bc, w;
    private final float scale;

    AttentionF32(Attention.Call c) {
        this.c = c;
        this.d = c.d();
        this.dp = roundUp(d);
        this.br = c.br();
        this.bc = c.bc();
        this.w = roundUp(bc);
        this.scale = (float) c.scale();
    }

    private static int roundUp(int n) {
        return (n + LANES - 1) / LANES * LANES;
    }

    /** Per-thread buffers of the forward. Feature padding [d, dp) is never written, so it stays zero. */
    static final class Forward {
        final float[] q, acc, v, kt, s, bias, m, l;

        Forward(int br, int w, int d, int dp) {
            q = new float[br * dp];    // [br, dp], pre-multiplied by scale
            acc = new float[br * dp];  // [br, dp] unnormalised output
            v = new float[w * dp];     // [bc, dp]
            kt = new float[d * w];     // [d, w], keys beyond the tile zeroed
            s = new float[br * w];     // [br, w] scores, then probabilities
            bias = new float[w];       // 0 for a key that may be seen, -inf for a masked or padded one
            m = new float[br];         // running max per query row
            l = new float[br];         // running sum per query row
        }
    }

    /** Per-thread buffers of the backward; dq, dRow and lse hold every query row of one kv head's group. */
    static final class Backward {
        final float[] q, dO, kRows, kt, vt, s, ds, dK, dV, bias, dq, dRow, lse;

        Backward(int br, int w, int d, int dp, int groupRows) {
            q = new float[br * dp];           // [br, dp], pre-multiplied by scale; O while computing D
            dO = new float[br * dp];          // [br, dp]
            kRows = new float[w * dp];        // [bc, dp]
            kt = new float[d * w];            // [d, w]
            vt = new float[d * w];            // [d, w]
            s = new float[br * w];            // [br, w] P
            ds = new float[br * w];           // [br, w] dP, then dS
            dK = new float[w * dp];           // [bc, dp]
            dV = new float[w * dp];           // [bc, dp]
            bias = new float[w];
            dq = new float[groupRows * dp];   // [group * s, dp], without the final scale
            dRow = new float[groupRows];      // D_i = rowsum(dO_i * O_i)
            lse = new float[groupRows];
        }
    }

    @Override
    public Forward forwardScratch() {
        return new Forward(br, w, d, dp);
    }

    @Override
    public Backward backwardScratch() {
        return new Backward(br, w, d, dp, c.group() * c.s());
    }

    @Override
    public void forwardTile(Forward f, int b, int h, int i0) {
        int rows = Math.min(br, c.s() - i0);
        int kvh = h / c.group();
        c.q().load(b, h, i0, rows, d, scale, f.q, 0, dp);
        Arrays.fill(f.acc, 0, rows * dp, 0f);
        Arrays.fill(f.m, 0, rows, NEG_INF);
        Arrays.fill(f.l, 0, rows, 0f);
        int keyEnd = c.keyEnd(i0 + rows - 1); // the tile's last row sees the most keys
        for (int j0 = 0; j0 < keyEnd; j0 += bc) {
            int jn = Math.min(bc, keyEnd - j0);
            int width = roundUp(jn); // score columns worth computing
            c.k().loadTransposed(b, kvh, j0, jn, d, f.kt, w);
            c.v().load(b, kvh, j0, jn, d, 1f, f.v, 0, dp);
            bias(b, j0, jn, f.bias);
            mulAdd(rows, d, width, f.q, 0, dp, 1, f.kt, 0, w, f.s, 0, w, false); // S = (scale q) k^T
            for (int r = 0; r < rows; r++) {
                onlineSoftmaxRow(f, r, width, Math.min(jn, c.keyEnd(i0 + r) - j0));
            }
            mulAdd(rows, jn, dp, f.s, 0, w, 1, f.v, 0, dp, f.acc, 0, dp, true); // acc += P v
        }
        for (int r = 0; r < rows; r++) {
            boolean seen = f.l[r] > 0;
            if (seen) {
                scaleRow(f.acc, r * dp, 1f / f.l[r]);
            } else {
                Arrays.fill(f.acc, r * dp, (r + 1) * dp, 0f); // a row that saw no key yields zeros
            }
            c.lse().set(b, h, i0 + r, seen ? f.m[r] + Math.log(f.l[r]) : Double.NEGATIVE_INFINITY);
        }
        c.out().store(b, h, i0, rows, d, 1f, f.acc, 0, dp);
    }

    /** Folds score row r (keys [0, end) visible before the padding mask) into m, l and acc; leaves P in s. */
    private void onlineSoftmaxRow(Forward f, int r, int width, int end) {
        int o = r * w;
        if (end <= 0) {
            Arrays.fill(f.s, o, o + width, 0f); // the causal rule hides the whole tile from this row
            return;
        }
        FloatVector maxV = FloatVector.broadcast(SPECIES, NEG_INF);
        for (int x = 0; x < width; x += LANES) {
            FloatVector sv = masked(f.s, o, f.bias, x, end);
            sv.intoArray(f.s, o + x);
            maxV = maxV.max(sv);
        }
        float mOld = f.m[r];
        float mNew = Math.max(mOld, maxV.reduceLanes(VectorOperators.MAX));
        if (mNew == NEG_INF) {
            Arrays.fill(f.s, o, o + width, 0f); // nothing visible yet: P is zero and m, l, acc stay
            return;
        }
        FloatVector mv = FloatVector.broadcast(SPECIES, mNew);
        FloatVector sumV = FloatVector.zero(SPECIES);
        for (int x = 0; x < width; x += LANES) {
            FloatVector p = VectorMath.exp(FloatVector.fromArray(SPECIES, f.s, o + x).sub(mv));
            p.intoArray(f.s, o + x);
            sumV = sumV.add(p);
        }
        float alpha = (float) Math.exp(mOld - mNew); // 0 when m was -inf
        f.l[r] = f.l[r] * alpha + VectorMath.sum(sumV);
        f.m[r] = mNew;
        if (alpha != 1f) {
            scaleRow(f.acc, r * dp, alpha);
        }
    }

    /** Scores at columns [x, x + LANES) of the row at o, plus the bias, and -inf from column end on. */
    private static FloatVector masked(float[] s, int o, float[] bias, int x, int end) {
        FloatVector sv = FloatVector.fromArray(SPECIES, s, o + x).add(FloatVector.fromArray(SPECIES, bias, x));
        if (x + LANES > end) {
            sv = sv.blend(NEG_INF, SPECIES.indexInRange(x, end).not());
        }
        return sv;
    }

    private void scaleRow(float[] a, int off, float factor) {
        FloatVector fv = FloatVector.broadcast(SPECIES, factor);
        for (int x = 0; x < dp; x += LANES) {
            FloatVector.fromArray(SPECIES, a, off + x).mul(fv).intoArray(a, off + x);
        }
    }

    @Override
    public void backwardHead(Backward bw, int b, int kvh) {
        int group = c.group(), s = c.s(), t = c.t();
        rowStatistics(bw, b, kvh);
        Arrays.fill(bw.dq, 0f);
        for (int j0 = 0; j0 < t; j0 += bc) {
            int jn = Math.min(bc, t - j0);
            int width = roundUp(jn);
            c.k().load(b, kvh, j0, jn, d, 1f, bw.kRows, 0, dp);
            c.k().loadTransposed(b, kvh, j0, jn, d, bw.kt, w);
            c.v().loadTransposed(b, kvh, j0, jn, d, bw.vt, w);
            bias(b, j0, jn, bw.bias);
            Arrays.fill(bw.dK, 0, jn * dp, 0f);
            Arrays.fill(bw.dV, 0, jn * dp, 0f);
            for (int g = 0; g < group; g++) {
                int h = kvh * group + g;
                for (int i0 = c.firstQuery(j0); i0 < s; i0 += br) {
                    int rows = Math.min(br, s - i0);
                    c.q().load(b, h, i0, rows, d, scale, bw.q, 0, dp);
                    c.gradOut().load(b, h, i0, rows, d, 1f, bw.dO, 0, dp);
                    mulAdd(rows, d, width, bw.q, 0, dp, 1, bw.kt, 0, w, bw.s, 0, w, false);   // S = (scale q) k^T
                    mulAdd(rows, d, width, bw.dO, 0, dp, 1, bw.vt, 0, w, bw.ds, 0, w, false); // dP = dO v^T
                    for (int r = 0; r < rows; r++) {
                        int row = g * s + i0 + r;
                        probabilityRow(bw, r, width, Math.min(jn, c.keyEnd(i0 + r) - j0), bw.lse[row], bw.dRow[row]);
                    }
                    mulAdd(jn, rows, dp, bw.s, 0, 1, w, bw.dO, 0, dp, bw.dV, 0, dp, true);  // dV += P^T dO
                    mulAdd(jn, rows, dp, bw.ds, 0, 1, w, bw.q, 0, dp, bw.dK, 0, dp, true);  // dK += dS^T (scale q)
                    mulAdd(rows, jn, dp, bw.ds, 0, w, 1, bw.kRows, 0, dp, bw.dq, (g * s + i0) * dp, dp, true); // dq += dS k
                }
            }
            c.gradK().store(b, kvh, j0, jn, d, 1f, bw.dK, 0, dp);
            c.gradV().store(b, kvh, j0, jn, d, 1f, bw.dV, 0, dp);
        }
        for (int g = 0; g < group; g++) {
            c.gradQ().store(b, kvh * group + g, 0, s, d, scale, bw.dq, g * s * dp, dp); // dQ = scale * dS k
        }
    }

    /** Turns row r of s into P = exp(S - lse) (0 where masked) and of ds into dS = P * (dP - D). */
    private void probabilityRow(Backward bw, int r, int width, int end, float lse, float dRow) {
        int o = r * w;
        if (lse == NEG_INF) {
            // A row that saw no key must get no gradient: its P is 0, not exp(S + inf).
            Arrays.fill(bw.s, o, o + width, 0f);
            Arrays.fill(bw.ds, o, o + width, 0f);
            return;
        }
        FloatVector lv = FloatVector.broadcast(SPECIES, lse);
        FloatVector dv = FloatVector.broadcast(SPECIES, dRow);
        for (int x = 0; x < width; x += LANES) {
            FloatVector p = VectorMath.exp(masked(bw.s, o, bw.bias, x, end).sub(lv));
            p.intoArray(bw.s, o + x);
            p.mul(FloatVector.fromArray(SPECIES, bw.ds, o + x).sub(dv)).intoArray(bw.ds, o + x);
        }
    }

    /** Fills bw.dRow with D_i = rowsum(dO_i * O_i) and bw.lse with the saved lse, for every query row of kv head kvh. */
    private void rowStatistics(Backward bw, int b, int kvh) {
        int group = c.group(), s = c.s();
        for (int g = 0; g < group; g++) {
            int h = kvh * group + g;
            for (int i0 = 0; i0 < s; i0 += br) {
                int rows = Math.min(br, s - i0);
                c.out().load(b, h, i0, rows, d, 1f, bw.q, 0, dp);
                c.gradOut().load(b, h, i0, rows, d, 1f, bw.dO, 0, dp);
                for (int r = 0; r < rows; r++) {
                    FloatVector sum = FloatVector.zero(SPECIES);
                    for (int x = 0; x < dp; x += LANES) {
                        sum = FloatVector.fromArray(SPECIES, bw.q, r * dp + x)
                                .fma(FloatVector.fromArray(SPECIES, bw.dO, r * dp + x), sum);
                    }
                    bw.dRow[g * s + i0 + r] = VectorMath.sum(sum);
                    bw.lse[g * s + i0 + r] = (float) c.lse().get(b, h, i0 + r);
                }
            }
        }
    }

    /** bias[j] = 0 for a key of the tile the padding mask keeps, -inf for a hidden one or a column past the tile. */
    private void bias(int b, int j0, int jn, float[] bias) {
        for (int j = 0; j < w; j++) {
            bias[j] = j < jn && c.keep(b, j0 + j) ? 0f : NEG_INF;
        }
    }

    /**
     * {@code C[r, x] (+)= sum_{i < n} A[r, i] * B[i, x]} for r < rows, x < width (a multiple of
     * the vector length), where A[r, i] is {@code a[aOff + r*aRow + i*aCol]} (so A may be a
     * transposed view), B[i, x] is {@code b[bOff + i*ldb + x]} and C[r, x] is
     * {@code c[cOff + r*ldc + x]}. Without {@code accumulate}, C is overwritten.
     *
     * <p>Rows go in pairs over four vectors of C at a time: eight independent FMA chains hide the
     * FMA latency, and each vector loaded from B feeds two FMAs.
     */
    static void mulAdd(int rows, int n, int width, float[] a, int aOff, int aRow, int aCol,
                       float[] b, int bOff, int ldb, float[] c, int cOff, int ldc, boolean accumulate) {
        int r = 0;
        for (; r + 2 <= rows; r += 2) {
            rowPair(n, width, a, aOff + r * aRow, aOff + (r + 1) * aRow, aCol, b, bOff, ldb,
                    c, cOff + r * ldc, cOff + (r + 1) * ldc, accumulate);
        }
        if (r < rows) {
            row(n, width, a, aOff + r * aRow, aCol, b, bOff, ldb, c, cOff + r * ldc, accumulate);
        }
    }

    private static void rowPair(int n, int width, float[] a, int a0, int a1, int aCol, float[] b, int bOff, int ldb,
                                float[] c, int c0, int c1, boolean accumulate) {
        int x = 0;
        for (; x + 4 * LANES <= width; x += 4 * LANES) {
            FloatVector u0 = start(c, c0 + x, accumulate), u1 = start(c, c0 + x + LANES, accumulate);
            FloatVector u2 = start(c, c0 + x + 2 * LANES, accumulate), u3 = start(c, c0 + x + 3 * LANES, accumulate);
            FloatVector w0 = start(c, c1 + x, accumulate), w1 = start(c, c1 + x + LANES, accumulate);
            FloatVector w2 = start(c, c1 + x + 2 * LANES, accumulate), w3 = start(c, c1 + x + 3 * LANES, accumulate);
            for (int i = 0, ai = 0, bi = bOff + x; i < n; i++, ai += aCol, bi += ldb) {
                FloatVector p = FloatVector.broadcast(SPECIES, a[a0 + ai]);
                FloatVector q = FloatVector.broadcast(SPECIES, a[a1 + ai]);
                FloatVector b0 = FloatVector.fromArray(SPECIES, b, bi);
                FloatVector b1 = FloatVector.fromArray(SPECIES, b, bi + LANES);
                FloatVector b2 = FloatVector.fromArray(SPECIES, b, bi + 2 * LANES);
                FloatVector b3 = FloatVector.fromArray(SPECIES, b, bi + 3 * LANES);
                u0 = b0.fma(p, u0);
                u1 = b1.fma(p, u1);
                u2 = b2.fma(p, u2);
                u3 = b3.fma(p, u3);
                w0 = b0.fma(q, w0);
                w1 = b1.fma(q, w1);
                w2 = b2.fma(q, w2);
                w3 = b3.fma(q, w3);
            }
            u0.intoArray(c, c0 + x);
            u1.intoArray(c, c0 + x + LANES);
            u2.intoArray(c, c0 + x + 2 * LANES);
            u3.intoArray(c, c0 + x + 3 * LANES);
            w0.intoArray(c, c1 + x);
            w1.intoArray(c, c1 + x + LANES);
            w2.intoArray(c, c1 + x + 2 * LANES);
            w3.intoArray(c, c1 + x + 3 * LANES);
        }
        for (; x < width; x += LANES) {
            FloatVector u = start(c, c0 + x, accumulate), w = start(c, c1 + x, accumulate);
            for (int i = 0, ai = 0, bi = bOff + x; i < n; i++, ai += aCol, bi += ldb) {
                FloatVector bv = FloatVector.fromArray(SPECIES, b, bi);
                u = bv.fma(FloatVector.broadcast(SPECIES, a[a0 + ai]), u);
                w = bv.fma(FloatVector.broadcast(SPECIES, a[a1 + ai]), w);
            }
            u.intoArray(c, c0 + x);
            w.intoArray(c, c1 + x);
        }
    }

    private static void row(int n, int width, float[] a, int a0, int aCol, float[] b, int bOff, int ldb,
                            float[] c, int c0, boolean accumulate) {
        int x = 0;
        for (; x + 4 * LANES <= width; x += 4 * LANES) {
            FloatVector u0 = start(c, c0 + x, accumulate), u1 = start(c, c0 + x + LANES, accumulate);
            FloatVector u2 = start(c, c0 + x + 2 * LANES, accumulate), u3 = start(c, c0 + x + 3 * LANES, accumulate);
            for (int i = 0, ai = a0, bi = bOff + x; i < n; i++, ai += aCol, bi += ldb) {
                FloatVector p = FloatVector.broadcast(SPECIES, a[ai]);
                u0 = FloatVector.fromArray(SPECIES, b, bi).fma(p, u0);
                u1 = FloatVector.fromArray(SPECIES, b, bi + LANES).fma(p, u1);
                u2 = FloatVector.fromArray(SPECIES, b, bi + 2 * LANES).fma(p, u2);
                u3 = FloatVector.fromArray(SPECIES, b, bi + 3 * LANES).fma(p, u3);
            }
            u0.intoArray(c, c0 + x);
            u1.intoArray(c, c0 + x + LANES);
            u2.intoArray(c, c0 + x + 2 * LANES);
            u3.intoArray(c, c0 + x + 3 * LANES);
        }
        for (; x < width; x += LANES) {
            FloatVector u = start(c, c0 + x, accumulate);
            for (int i = 0, ai = a0, bi = bOff + x; i < n; i++, ai += aCol, bi += ldb) {
                u = FloatVector.fromArray(SPECIES, b, bi).fma(FloatVector.broadcast(SPECIES, a[ai]), u);
            }
            u.intoArray(c, c0 + x);
        }
    }

    private static FloatVector start(float[] c, int at, boolean accumulate) {
        return accumulate ? FloatVector.fromArray(SPECIES, c, at) : FloatVector.zero(SPECIES);
    }
}
