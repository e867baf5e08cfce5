package ai.attune.kernels.jvm;

import java.util.Arrays;

/**
 * The f64 attention kernel: double tiles and plain loops. Gradient checks run in f64, so this
 * path aims at exactness, not speed: everything accumulates in double, and the backward refines
 * the saved lse (which callers keep in f32, good to ~1e-7 only) against the scores it recomputes
 * anyway, so that P = exp(S - lse) is exact to double rounding.
 *
 * <p>Tiles are row-major: Q, dO, V, K rows are [rows, d]; K^T and V^T are [d, bc], so that a
 * score tile is a product of a row tile and a transposed tile ({@link #mulAdd}).
 */
final class AttentionF64 implements Attention.Kernel<AttentionF64.Forward, AttentionF64.Backward> {
    private final Attention.Call c;
    private final int d, br, bc;

    AttentionF64(Attention.Call c) {
        this.c = c;
        this.d = c.d();
        this.br = c.br();
        this.bc = c.bc();
    }

    /** Per-thread buffers of the forward. */
    static final class Forward {
        final double[] q, acc, v, kt, s, m, l;
        final boolean[] keep;

        Forward(int br, int bc, int d) {
            q = new double[br * d];     // [br, d], pre-multiplied by scale
            acc = new double[br * d];   // [br, d] unnormalised output
            v = new double[bc * d];     // [bc, d]
            kt = new double[d * bc];    // [d, bc]
            s = new double[br * bc];    // [br, bc] scores, then probabilities
            m = new double[br];         // running max per query row
            l = new double[br];         // running sum per query row
            keep = new boolean[bc];
        }
    }

    /** Per-thread buffers of the backward; dq, dRow and lse hold every query row of one kv head's group. */
    static final class Backward {
        final double[] q, dO, kRows, kt, vt, s, ds, dK, dV, dq, dRow, lse, sumExp;
        final boolean[] keep;

        Backward(int br, int bc, int d, int groupRows) {
            q = new double[br * d];            // [br, d], pre-multiplied by scale
            dO = new double[br * d];           // [br, d]
            kRows = new double[bc * d];        // [bc, d]
            kt = new double[d * bc];           // [d, bc]
            vt = new double[d * bc];           // [d, bc]
            s = new double[br * bc];           // [br, bc] P
            ds = new double[br * bc];          // [br, bc] dP, then dS
            dK = new double[bc * d];           // [bc, d]
            dV = new double[bc * d];           // [bc, d]
            dq = new double[groupRows * d];    // [group * s, d], without the final scale
            dRow = new double[groupRows];      // D_i = rowsum(dO_i * O_i)
            lse = new double[groupRows];
            sumExp = new double[br];
            keep = new boolean[bc];
        }
    }

    @Override
    public Forward forwardScratch() {
        return new Forward(br, bc, d);
    }

    @Override
    public Backward backwardScratch() {
        return new Backward(br, bc, d, c.group() * c.s());
    }

    @Override
    public void forwardTile(Forward f, int b, int h, int i0) {
        int rows = Math.min(br, c.s() - i0);
        int kvh = h / c.group();
        c.q().load(b, h, i0, rows, d, c.scale(), f.q, 0, d);
        Arrays.fill(f.acc, 0, rows * d, 0);
        Arrays.fill(f.m, 0, rows, Double.NEGATIVE_INFINITY);
        Arrays.fill(f.l, 0, rows, 0);
        int keyEnd = c.keyEnd(i0 + rows - 1); // the tile's last row sees the most keys
        for (int j0 = 0; j0 < keyEnd; j0 += bc) {
            int jn = Math.min(bc, keyEnd - j0);
            c.k().loadTransposed(b, kvh, j0, jn, d, f.kt, bc);
            c.v().load(b, kvh, j0, jn, d, 1, f.v, 0, d);
            keep(b, j0, jn, f.keep);
            mulAdd(rows, d, jn, f.q, 0, d, 1, f.kt, 0, bc, f.s, 0, bc, false); // S = (scale q) k^T
            for (int r = 0; r < rows; r++) {
                onlineSoftmaxRow(f, r, jn, Math.min(jn, c.keyEnd(i0 + r) - j0));
            }
            mulAdd(rows, jn, d, f.s, 0, bc, 1, f.v, 0, d, f.acc, 0, d, true); // acc += P v
        }
        for (int r = 0; r < rows; r++) {
            boolean seen = f.l[r] > 0;
            for (int p = r * d; p < (r + 1) * d; p++) {
                f.acc[p] = seen ? f.acc[p] / f.l[r] : 0; // a row that saw no key yields zeros
            }
            c.lse().set(b, h, i0 + r, seen ? f.m[r] + Math.log(f.l[r]) : Double.NEGATIVE_INFINITY);
        }
        c.out().store(b, h, i0, rows, d, 1, f.acc, 0, d);
    }

    /** Folds score row r (keys [0, end) visible before the padding mask) into m, l and acc; leaves P in s. */
    private void onlineSoftmaxRow(Forward f, int r, int jn, int end) {
        int o = r * bc;
        double rowMax = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < jn; j++) {
            double x = j < end && f.keep[j] ? f.s[o + j] : Double.NEGATIVE_INFINITY;
            f.s[o + j] = x;
            rowMax = Math.max(rowMax, x);
        }
        double mNew = Math.max(f.m[r], rowMax);
        if (mNew == Double.NEGATIVE_INFINITY) {
            Arrays.fill(f.s, o, o + jn, 0); // nothing visible yet: P is zero and m, l, acc stay
            return;
        }
        double sum = 0;
        for (int j = 0; j < jn; j++) {
            double p = Math.exp(f.s[o + j] - mNew);
            f.s[o + j] = p;
            sum += p;
        }
        double alpha = Math.exp(f.m[r] - mNew); // 0 when m was -inf
        f.l[r] = f.l[r] * alpha + sum;
        f.m[r] = mNew;
        if (alpha != 1) {
            for (int p = r * d; p < (r + 1) * d; p++) {
                f.acc[p] *= alpha;
            }
        }
    }

    @Override
    public void backwardHead(Backward w, int b, int kvh) {
        int group = c.group(), s = c.s(), t = c.t();
        rowStatistics(w, b, kvh);
        Arrays.fill(w.dq, 0);
        for (int j0 = 0; j0 < t; j0 += bc) {
            int jn = Math.min(bc, t - j0);
            c.k().load(b, kvh, j0, jn, d, 1, w.kRows, 0, d);
            c.k().loadTransposed(b, kvh, j0, jn, d, w.kt, bc);
            c.v().loadTransposed(b, kvh, j0, jn, d, w.vt, bc);
            keep(b, j0, jn, w.keep);
            Arrays.fill(w.dK, 0, jn * d, 0);
            Arrays.fill(w.dV, 0, jn * d, 0);
            for (int g = 0; g < group; g++) {
                int h = kvh * group + g;
                for (int i0 = c.firstQuery(j0); i0 < s; i0 += br) {
                    int rows = Math.min(br, s - i0);
                    c.q().load(b, h, i0, rows, d, c.scale(), w.q, 0, d);
                    c.gradOut().load(b, h, i0, rows, d, 1, w.dO, 0, d);
                    mulAdd(rows, d, jn, w.q, 0, d, 1, w.kt, 0, bc, w.s, 0, bc, false);  // S = (scale q) k^T
                    mulAdd(rows, d, jn, w.dO, 0, d, 1, w.vt, 0, bc, w.ds, 0, bc, false); // dP = dO v^T
                    for (int r = 0; r < rows; r++) {
                        int row = g * s + i0 + r;
                        probabilityRow(w, r, jn, Math.min(jn, c.keyEnd(i0 + r) - j0), w.lse[row], w.dRow[row]);
                    }
                    mulAdd(jn, rows, d, w.s, 0, 1, bc, w.dO, 0, d, w.dV, 0, d, true);  // dV += P^T dO
                    mulAdd(jn, rows, d, w.ds, 0, 1, bc, w.q, 0, d, w.dK, 0, d, true);  // dK += dS^T (scale q)
                    mulAdd(rows, jn, d, w.ds, 0, bc, 1, w.kRows, 0, d, w.dq, (g * s + i0) * d, d, true); // dq += dS k
                }
            }
            c.gradK().store(b, kvh, j0, jn, d, 1, w.dK, 0, d);
            c.gradV().store(b, kvh, j0, jn, d, 1, w.dV, 0, d);
        }
        for (int g = 0; g < group; g++) {
            c.gradQ().store(b, kvh * group + g, 0, s, d, c.scale(), w.dq, g * s * d, d); // dQ = scale * dS k
        }
    }

    /** Turns row r of s into P = exp(S - lse) (0 where masked) and of ds into dS = P * (dP - D). */
    private void probabilityRow(Backward w, int r, int jn, int end, double lse, double dRow) {
        int o = r * bc;
        for (int j = 0; j < jn; j++) {
            // A row that saw no key has lse = -inf and must get no gradient: its P is 0, not exp(+inf).
            double p = lse != Double.NEGATIVE_INFINITY && j < end && w.keep[j] ? Math.exp(w.s[o + j] - lse) : 0;
            w.s[o + j] = p;
            w.ds[o + j] = p * (w.ds[o + j] - dRow);
        }
    }

    /** Fills w.dRow with D_i = rowsum(dO_i * O_i) and w.lse with the exact lse of every query row of kv head kvh. */
    private void rowStatistics(Backward w, int b, int kvh) {
        int group = c.group(), s = c.s();
        double[] sumExp = w.sumExp;
        for (int g = 0; g < group; g++) {
            int h = kvh * group + g;
            for (int i0 = 0; i0 < s; i0 += br) {
                int rows = Math.min(br, s - i0);
                c.out().load(b, h, i0, rows, d, 1, w.q, 0, d);
                c.gradOut().load(b, h, i0, rows, d, 1, w.dO, 0, d);
                for (int r = 0; r < rows; r++) {
                    double sum = 0;
                    for (int p = 0; p < d; p++) {
                        sum += w.q[r * d + p] * w.dO[r * d + p];
                    }
                    w.dRow[g * s + i0 + r] = sum;
                    w.lse[g * s + i0 + r] = c.lse().get(b, h, i0 + r);
                }
                // Refine: lse_exact = lse + log(sum_j exp(S_ij - lse)); the saved lse keeps exp in range.
                c.q().load(b, h, i0, rows, d, c.scale(), w.q, 0, d);
                Arrays.fill(sumExp, 0);
                int keyEnd = c.keyEnd(i0 + rows - 1);
                for (int j0 = 0; j0 < keyEnd; j0 += bc) {
                    int jn = Math.min(bc, keyEnd - j0);
                    c.k().loadTransposed(b, kvh, j0, jn, d, w.kt, bc);
                    keep(b, j0, jn, w.keep);
                    mulAdd(rows, d, jn, w.q, 0, d, 1, w.kt, 0, bc, w.s, 0, bc, false);
                    for (int r = 0; r < rows; r++) {
                        double lse = w.lse[g * s + i0 + r];
                        int end = Math.min(jn, c.keyEnd(i0 + r) - j0);
                        for (int j = 0; j < end && lse != Double.NEGATIVE_INFINITY; j++) {
                            if (w.keep[j]) {
                                sumExp[r] += Math.exp(w.s[r * bc + j] - lse);
                            }
                        }
                    }
                }
                for (int r = 0; r < rows; r++) {
                    int row = g * s + i0 + r;
                    w.lse[row] = sumExp[r] > 0 ? w.lse[row] + Math.log(sumExp[r]) : Double.NEGATIVE_INFINITY;
                }
            }
        }
    }

    private void keep(int b, int j0, int jn, boolean[] keep) {
        for (int j = 0; j < jn; j++) {
            keep[j] = c.keep(b, j0 + j);
        }
    }

    /**
     * {@code C[r, x] (+)= sum_{i < n} A[r, i] * B[i, x]} for r < rows, x < width, where A[r, i] is
     * {@code a[aOff + r*aRow + i*aCol]} (so A may be a transposed view), B[i, x] is
     * {@code b[bOff + i*ldb + x]} and C[r, x] is {@code c[cOff + r*ldc + x]}. Without
     * {@code accumulate}, C is overwritten.
     */
    static void mulAdd(int rows, int n, int width, double[] a, int aOff, int aRow, int aCol,
                       double[] b, int bOff, int ldb, double[] c, int cOff, int ldc, boolean accumulate) {
        for (int r = 0; r < rows; r++) {
            int cr = cOff + r * ldc;
            if (!accumulate) {
                Arrays.fill(c, cr, cr + width, 0);
            }
            for (int i = 0; i < n; i++) {
                double av = a[aOff + r * aRow + i * aCol];
                int bi = bOff + i * ldb;
                for (int x = 0; x < width; x++) {
                    c[cr + x] += av * b[bi + x];
                }
            }
        }
    }
}
