package ai.attune.plugins.model.gpt2;

/**
 * GPT2LMHeadModel written out in double with plain loops, from the same arrays the checkpoint
 * holds: the oracle for the model. It shares no code with the model: Conv1D is {@code x @ W + b}
 * with W [in, out], attention is an explicit per-head softmax over the visible keys.
 */
final class Gpt2Reference {
    private final TinyGpt2 m;
    private final int e = TinyGpt2.N_EMBD;
    private final int heads = TinyGpt2.N_HEAD;
    private final int d = TinyGpt2.N_EMBD / TinyGpt2.N_HEAD;

    Gpt2Reference(TinyGpt2 m) {
        this.m = m;
    }

    /**
     * Logits [t][vocab] of one sequence; mask[j] == 0 hides key j (null: none hidden). Positions
     * are the indices 0..t-1. A query that sees no key gets a zero attention output, as the fused
     * kernel gives; callers compare only unmasked rows.
     */
    double[][] logits(long[] ids, long[] mask) {
        int t = ids.length;
        double[][] x = new double[t][e];
        float[] wte = m.get("wte.weight");
        float[] wpe = m.get("wpe.weight");
        for (int i = 0; i < t; i++) {
            for (int c = 0; c < e; c++) {
                x[i][c] = wte[(int) ids[i] * e + c] + wpe[i * e + c];
            }
        }
        for (int l = 0; l < TinyGpt2.N_LAYER; l++) {
            String p = "h." + l + ".";
            double[][] a = layerNorm(x, p + "ln_1");
            double[][] qkv = conv1d(a, p + "attn.c_attn", e, 3 * e);
            double scale = 1.0 / Math.sqrt(d) / (m.inverseLayerIdx ? l + 1 : 1);
            double[][] att = new double[t][e];
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < t; i++) {
                    double[] s = new double[i + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= i; j++) {
                        if (mask != null && mask[j] == 0) {
                            s[j] = Double.NEGATIVE_INFINITY;
                            continue;
                        }
                        double dot = 0;
                        for (int c = 0; c < d; c++) {
                            dot += qkv[i][h * d + c] * qkv[j][e + h * d + c];
                        }
                        s[j] = dot * scale;
                        max = Math.max(max, s[j]);
                    }
                    if (max == Double.NEGATIVE_INFINITY) {
                        continue; // no visible key
                    }
                    double sum = 0;
                    for (int j = 0; j <= i; j++) {
                        s[j] = Math.exp(s[j] - max);
                        sum += s[j];
                    }
                    for (int j = 0; j <= i; j++) {
                        for (int c = 0; c < d; c++) {
                            att[i][h * d + c] += s[j] / sum * qkv[j][2 * e + h * d + c];
                        }
                    }
                }
            }
            add(x, conv1d(att, p + "attn.c_proj", e, e));
            double[][] f = conv1d(layerNorm(x, p + "ln_2"), p + "mlp.c_fc", e, m.nInner);
            for (double[] row : f) {
                for (int c = 0; c < row.length; c++) {
                    row[c] = activation(row[c]);
                }
            }
            add(x, conv1d(f, p + "mlp.c_proj", m.nInner, e));
        }
        double[][] hidden = layerNorm(x, "ln_f");
        float[] head = m.get(m.tied ? "wte.weight" : "lm_head.weight"); // [vocab, n_embd]
        double[][] out = new double[t][TinyGpt2.VOCAB];
        for (int i = 0; i < t; i++) {
            for (int v = 0; v < TinyGpt2.VOCAB; v++) {
                double acc = 0;
                for (int c = 0; c < e; c++) {
                    acc += hidden[i][c] * head[v * e + c];
                }
                out[i][v] = acc;
            }
        }
        return out;
    }

    private double activation(double x) {
        return switch (m.activation) {
            case "gelu_new" -> 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
            case "relu" -> Math.max(0, x);
            default -> throw new IllegalArgumentException("reference has no " + m.activation);
        };
    }

    private double[][] layerNorm(double[][] x, String name) {
        float[] w = m.get(name + ".weight");
        float[] b = m.get(name + ".bias");
        double[][] out = new double[x.length][e];
        for (int i = 0; i < x.length; i++) {
            double mean = 0;
            for (double v : x[i]) {
                mean += v;
            }
            mean /= e;
            double var = 0;
            for (double v : x[i]) {
                var += (v - mean) * (v - mean);
            }
            var /= e; // biased, as torch's layer_norm
            double inv = 1 / Math.sqrt(var + 1e-5);
            for (int c = 0; c < e; c++) {
                out[i][c] = (x[i][c] - mean) * inv * w[c] + b[c];
            }
        }
        return out;
    }

    /** x [t, in] @ W [in, out] + b [out]. */
    private double[][] conv1d(double[][] x, String name, int in, int outDim) {
        float[] w = m.get(name + ".weight");
        float[] b = m.get(name + ".bias");
        double[][] out = new double[x.length][outDim];
        for (int i = 0; i < x.length; i++) {
            for (int o = 0; o < outDim; o++) {
                double acc = b[o];
                for (int k = 0; k < in; k++) {
                    acc += x[i][k] * w[k * outDim + o];
                }
                out[i][o] = acc;
            }
        }
        return out;
    }

    private static void add(double[][] x, double[][] y) {
        for (int i = 0; i < x.length; i++) {
            for (int c = 0; c < x[i].length; c++) {
                x[i][c] += y[i][c];
            }
        }
    }
}
