package ai.attune.plugins.model.bert;

/**
 * An independent scalar BERT in double, written from the transformers code's semantics and not
 * from Attune's: loops over tokens, heads and features; softmax over the keys the mask keeps;
 * post-LN residuals; GELU with erf from its power series; mean pooling over the mask; L2 norm.
 */
final class ScalarBert {
    private final TinyBert w;
    private final int hidden;
    private final int heads;

    ScalarBert(TinyBert w) {
        this.w = w;
        this.hidden = TinyBert.HIDDEN;
        this.heads = TinyBert.HEADS;
    }

    /** The sentence embedding of one (possibly right-padded) sequence. */
    double[] embed(long[] ids, long[] mask, long[] types) {
        int t = ids.length;
        double[] word = w.get("embeddings.word_embeddings.weight");
        double[] pos = w.get("embeddings.position_embeddings.weight");
        double[] type = w.get("embeddings.token_type_embeddings.weight");
        double[][] x = new double[t][hidden];
        for (int i = 0; i < t; i++) {
            for (int j = 0; j < hidden; j++) {
                x[i][j] = word[(int) ids[i] * hidden + j] + type[(int) types[i] * hidden + j] + pos[i * hidden + j];
            }
        }
        x = layerNorm(x, "embeddings.LayerNorm");
        for (int l = 0; l < TinyBert.LAYERS; l++) {
            String p = "encoder.layer." + l + ".";
            double[][] ctx = attention(linear(x, p + "attention.self.query"), linear(x, p + "attention.self.key"),
                    linear(x, p + "attention.self.value"), mask);
            double[][] a = layerNorm(add(linear(ctx, p + "attention.output.dense"), x), p + "attention.output.LayerNorm");
            double[][] inter = linear(a, p + "intermediate.dense");
            for (double[] row : inter) {
                for (int j = 0; j < row.length; j++) {
                    row[j] = 0.5 * row[j] * (1 + erf(row[j] / Math.sqrt(2)));
                }
            }
            x = layerNorm(add(linear(inter, p + "output.dense"), a), p + "output.LayerNorm");
        }
        double[] pooled = new double[hidden];
        int count = 0;
        for (int i = 0; i < t; i++) {
            if (mask[i] != 0) {
                count++;
                for (int j = 0; j < hidden; j++) {
                    pooled[j] += x[i][j];
                }
            }
        }
        double norm = 0;
        for (int j = 0; j < hidden; j++) {
            pooled[j] /= count;
            norm += pooled[j] * pooled[j];
        }
        norm = Math.sqrt(norm);
        for (int j = 0; j < hidden; j++) {
            pooled[j] /= norm;
        }
        return pooled;
    }

    private double[][] linear(double[][] x, String name) {
        double[] wt = w.get(name + ".weight"); // [out, in]
        double[] b = w.get(name + ".bias");
        int in = x[0].length;
        int out = b.length;
        double[][] y = new double[x.length][out];
        for (int i = 0; i < x.length; i++) {
            for (int o = 0; o < out; o++) {
                double s = b[o];
                for (int k = 0; k < in; k++) {
                    s += x[i][k] * wt[o * in + k];
                }
                y[i][o] = s;
            }
        }
        return y;
    }

    private double[][] attention(double[][] q, double[][] k, double[][] v, long[] mask) {
        int t = q.length;
        int d = hidden / heads;
        double[][] out = new double[t][hidden];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < t; i++) {
                double[] s = new double[t];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < t; j++) {
                    if (mask[j] == 0) {
                        continue;
                    }
                    double dot = 0;
                    for (int e = 0; e < d; e++) {
                        dot += q[i][h * d + e] * k[j][h * d + e];
                    }
                    s[j] = dot / Math.sqrt(d);
                    max = Math.max(max, s[j]);
                }
                double z = 0;
                for (int j = 0; j < t; j++) {
                    s[j] = mask[j] == 0 ? 0 : Math.exp(s[j] - max);
                    z += s[j];
                }
                for (int j = 0; j < t; j++) {
                    for (int e = 0; e < d; e++) {
                        out[i][h * d + e] += s[j] / z * v[j][h * d + e];
                    }
                }
            }
        }
        return out;
    }

    private double[][] layerNorm(double[][] x, String name) {
        double[] g = w.get(name + ".weight");
        double[] b = w.get(name + ".bias");
        double[][] y = new double[x.length][];
        for (int i = 0; i < x.length; i++) {
            double mean = 0;
            for (double v : x[i]) {
                mean += v;
            }
            mean /= x[i].length;
            double var = 0;
            for (double v : x[i]) {
                var += (v - mean) * (v - mean);
            }
            var /= x[i].length; // biased, as torch's layer_norm
            y[i] = new double[x[i].length];
            for (int j = 0; j < x[i].length; j++) {
                y[i][j] = (x[i][j] - mean) / Math.sqrt(var + TinyBert.EPS) * g[j] + b[j];
            }
        }
        return y;
    }

    private static double[][] add(double[][] a, double[][] b) {
        double[][] y = new double[a.length][a[0].length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                y[i][j] = a[i][j] + b[i][j];
            }
        }
        return y;
    }

    /**
     * erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)), a series of positive
     * terms (no cancellation), accurate to double precision for |x| <= 6; beyond, |erf| rounds to 1.
     */
    static double erf(double x) {
        if (Math.abs(x) > 6) {
            return Math.signum(x);
        }
        double term = x;
        double sum = x;
        for (int n = 0; Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
            term *= 2 * x * x / (2 * n + 3);
            sum += term;
        }
        return 2 / Math.sqrt(Math.PI) * Math.exp(-x * x) * sum;
    }
}
