package ai.attune.plugins.model.llama;

import java.util.Map;

/** transformers' Llama forward written out in double loops: the independent oracle of the tiny-model tests. */
final class LlamaReference {
    private LlamaReference() {}

    static double[] logits(Map<String, double[]> w, boolean tied, boolean qkvBias, double[] invFreq, long[] ids,
                           int hidden, int inter, int layers, int hq, int hkv, int d, int vocab, double eps) {
        int t = ids.length;
        double[][] h = new double[t][hidden];
        double[] emb = w.get("model.embed_tokens.weight");
        for (int i = 0; i < t; i++) {
            System.arraycopy(emb, (int) ids[i] * hidden, h[i], 0, hidden);
        }
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            double[][] x = rms(h, w.get(p + "input_layernorm.weight"), eps);
            double[][] q = linear(x, w.get(p + "self_attn.q_proj.weight"), qkvBias ? w.get(p + "self_attn.q_proj.bias") : null, hq * d);
            double[][] k = linear(x, w.get(p + "self_attn.k_proj.weight"), qkvBias ? w.get(p + "self_attn.k_proj.bias") : null, hkv * d);
            double[][] v = linear(x, w.get(p + "self_attn.v_proj.weight"), qkvBias ? w.get(p + "self_attn.v_proj.bias") : null, hkv * d);
            rope(q, hq, d, invFreq);
            rope(k, hkv, d, invFreq);
            double[][] o = new double[t][hq * d];
            for (int head = 0; head < hq; head++) {
                int kvh = head / (hq / hkv);
                for (int i = 0; i < t; i++) {
                    double[] s = new double[i + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= i; j++) {
                        double dot = 0;
                        for (int c = 0; c < d; c++) {
                            dot += q[i][head * d + c] * k[j][kvh * d + c];
                        }
                        s[j] = dot / Math.sqrt(d);
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= i; j++) {
                        s[j] = Math.exp(s[j] - max);
                        sum += s[j];
                    }
                    for (int j = 0; j <= i; j++) {
                        for (int c = 0; c < d; c++) {
                            o[i][head * d + c] += s[j] / sum * v[j][kvh * d + c];
                        }
                    }
                }
            }
            add(h, linear(o, w.get(p + "self_attn.o_proj.weight"), null, hidden));
            double[][] y = rms(h, w.get(p + "post_attention_layernorm.weight"), eps);
            double[][] g = linear(y, w.get(p + "mlp.gate_proj.weight"), null, inter);
            double[][] u = linear(y, w.get(p + "mlp.up_proj.weight"), null, inter);
            for (int i = 0; i < t; i++) {
                for (int c = 0; c < inter; c++) {
                    double z = g[i][c];
                    g[i][c] = z / (1 + Math.exp(-z)) * u[i][c];
                }
            }
            add(h, linear(g, w.get(p + "mlp.down_proj.weight"), null, hidden));
        }
        double[][] f = rms(h, w.get("model.norm.weight"), eps);
        double[][] logits = linear(f, tied ? emb : w.get("lm_head.weight"), null, vocab);
        double[] out = new double[t * vocab];
        for (int i = 0; i < t; i++) {
            System.arraycopy(logits[i], 0, out, i * vocab, vocab);
        }
        return out;
    }

    static double[][] rms(double[][] h, double[] w, double eps) {
        double[][] out = new double[h.length][h[0].length];
        for (int i = 0; i < h.length; i++) {
            double ss = 0;
            for (double v : h[i]) {
                ss += v * v;
            }
            double r = 1 / Math.sqrt(ss / h[i].length + eps);
            for (int c = 0; c < h[i].length; c++) {
                out[i][c] = h[i][c] * r * w[c];
            }
        }
        return out;
    }

    /** y = x W^T + b with W [out, in] row-major. */
    static double[][] linear(double[][] x, double[] w, double[] b, int out) {
        int in = x[0].length;
        double[][] y = new double[x.length][out];
        for (int i = 0; i < x.length; i++) {
            for (int o = 0; o < out; o++) {
                double acc = b == null ? 0 : b[o];
                for (int c = 0; c < in; c++) {
                    acc += x[i][c] * w[o * in + c];
                }
                y[i][o] = acc;
            }
        }
        return y;
    }

    /** rotate_half: (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin), position = row index. */
    static void rope(double[][] x, int heads, int d, double[] invFreq) {
        for (int pos = 0; pos < x.length; pos++) {
            for (int head = 0; head < heads; head++) {
                for (int i = 0; i < d / 2; i++) {
                    double a = pos * invFreq[i];
                    int i1 = head * d + i;
                    int i2 = i1 + d / 2;
                    double x1 = x[pos][i1];
                    double x2 = x[pos][i2];
                    x[pos][i1] = x1 * Math.cos(a) - x2 * Math.sin(a);
                    x[pos][i2] = x2 * Math.cos(a) + x1 * Math.sin(a);
                }
            }
        }
    }

    static void add(double[][] h, double[][] y) {
        for (int i = 0; i < h.length; i++) {
            for (int c = 0; c < h[i].length; c++) {
                h[i][c] += y[i][c];
            }
        }
    }
}
