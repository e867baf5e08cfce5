package ai.attune.kernels.torch;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;
import org.bytedeco.javacpp.BoolPointer;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

import static ai.attune.kernels.torch.Aten.as;
import static ai.attune.kernels.torch.Aten.scalar;
import static ai.attune.kernels.torch.Aten.view;

/**
 * Softmax, RMSNorm and LayerNorm over the last dim, with their backwards. Softmax and LayerNorm
 * are ATen's fused CPU kernels (f32 accumulation for bf16); RMSNorm and the softmax backward are
 * short compositions in f32 (f64 for f64) whose saved statistics are the ones the caller passes.
 */
final class Normalization {
    private Normalization() {}

    static void softmax(Tensor x, boolean log, Tensor out) {
        Aten.checkShape(out, x.shape(), log ? "log_softmax" : "softmax", "out");
        var v = view(x);
        var o = view(out);
        if (x.dtype() != out.dtype()) {
            o.copy_(log ? torch.log_softmax(v, -1) : torch.softmax(v, -1));
        } else if (log) {
            torch.log_softmax_out(o, v, -1);
        } else {
            torch.softmax_out(o, v, -1);
        }
    }

    /** softmax: {@code gx = y * (gy - sum(gy * y))}; log_softmax: {@code gx = gy - exp(y) * sum(gy)}, sums over the last dim. */
    static void softmaxBackward(Tensor y, Tensor gradY, boolean log, Tensor gradX) {
        Aten.checkShape(gradX, y.shape(), log ? "log_softmax backward" : "softmax backward", "gradX");
        DType acc = Aten.accumulation(y, gradY, gradX);
        var p = as(view(y), acc);
        var g = as(view(gradY), acc);
        long[] last = {-1};
        var gx = log
                ? g.sub(p.exp().mul(g.sum(last, true, new ScalarTypeOptional())))
                : p.mul(g.sub(g.mul(p).sum(last, true, new ScalarTypeOptional())));
        view(gradX).copy_(gx);
    }

    /**
     * {@code y = x * rstd * w} with {@code rstd = rsqrt(mean(x^2) + eps)} computed in f32 (f64 for
     * f64) and x*rstd rounded to that type before the weight multiplies, as HF's LlamaRMSNorm does.
     */
    static void rmsNorm(Tensor x, Tensor weight, double eps, Tensor out, Tensor rstd) {
        Aten.checkShape(out, x.shape(), "rms_norm", "out");
        DType acc = Aten.accumulation(x);
        var v = as(view(x), acc); // [..., n]
        var rs = v.square().mean(new long[] {-1}, true, new ScalarTypeOptional()).add(scalar(eps)).rsqrt(); // [..., 1]
        view(rstd).copy_(rs.reshape(Aten.longs(rstd.shape())));
        var xhat = v.mul(rs);
        view(out).copy_(weight == null ? xhat : xhat.mul(as(view(weight), acc)));
    }

    /** {@code gx = rstd * (gy*w - xhat * mean(gy*w*xhat))}, {@code gw += sum_rows(gy * xhat)}. */
    static void rmsNormBackward(Tensor x, Tensor weight, Tensor rstd, Tensor gradY, Tensor gradX, Tensor gradWeight) {
        Aten.checkShape(gradX, x.shape(), "rms_norm backward", "gradX");
        DType acc = Aten.accumulation(x, gradY);
        var v = as(view(x), acc); // [..., n]
        var g = as(view(gradY), acc);
        var rs = as(view(rstd), acc).reshape(rowShape(x)); // [..., 1]
        var xhat = v.mul(rs);
        var gyw = weight == null ? g : g.mul(as(view(weight), acc)); // gy * w
        var dot = gyw.mul(xhat).mean(new long[] {-1}, true, new ScalarTypeOptional()); // [..., 1]
        view(gradX).copy_(rs.mul(gyw.sub(xhat.mul(dot))));
        if (gradWeight != null) {
            view(gradWeight).add_(g.mul(xhat).reshape(-1, x.size(-1)).sum(new long[] {0}, false, new ScalarTypeOptional()));
        }
    }

    static void layerNorm(Tensor x, Tensor weight, Tensor bias, double eps, Tensor out, Tensor mean, Tensor rstd) {
        Aten.checkShape(out, x.shape(), "layer_norm", "out");
        var r = torch.native_layer_norm(view(x), new long[] {x.size(-1)}, weight(weight, x), bias(bias, x), eps);
        view(out).copy_(r.get0());
        view(mean).copy_(r.get1().reshape(Aten.longs(mean.shape())));
        view(rstd).copy_(r.get2().reshape(Aten.longs(rstd.shape())));
    }

    static void layerNormBackward(Tensor x, Tensor weight, Tensor mean, Tensor rstd, Tensor gradY,
                                  Tensor gradX, Tensor gradWeight, Tensor gradBias) {
        Aten.checkShape(gradX, x.shape(), "layer_norm backward", "gradX");
        DType stat = Aten.accumulation(x);
        var mu = as(view(mean), stat).reshape(rowShape(x));
        var rs = as(view(rstd), stat).reshape(rowShape(x));
        var g = as(view(gradY), x.dtype());
        boolean wantWeight = gradWeight != null && weight != null;
        BoolPointer mask = new BoolPointer(3);
        // dbias is sum(gy) over rows, taken below: ATen would want the bias itself for it, which the backward is not given.
        mask.put(0, true).put(1, wantWeight).put(2, false);
        var r = torch.native_layer_norm_backward(g, view(x), new long[] {x.size(-1)}, mu, rs, weight(weight, x), new TensorOptional(), mask);
        view(gradX).copy_(r.get0());
        if (wantWeight) {
            view(gradWeight).add_(r.get1());
        }
        if (gradBias != null) {
            view(gradBias).add_(as(g, stat).reshape(-1, x.size(-1)).sum(new long[] {0}, false, new ScalarTypeOptional()));
        }
    }

    /**
     * The weight as native_layer_norm takes it. For bf16 and f16 inputs it is always an f32 one
     * (ones when there is none): that selects ATen's mixed-type path, whose mean and rstd are f32,
     * the type the autograd layer saves them in; with a bf16 weight they would be bf16.
     */
    private static TensorOptional weight(Tensor w, Tensor x) {
        DType p = parameterType(x);
        if (w == null) {
            return p == x.dtype() ? new TensorOptional() : new TensorOptional(torch.ones(new long[] {x.size(-1)}, Aten.options(p)));
        }
        return new TensorOptional(as(view(w), p));
    }

    private static TensorOptional bias(Tensor b, Tensor x) {
        return b == null ? new TensorOptional() : new TensorOptional(as(view(b), parameterType(x)));
    }

    /** f32 parameters for bf16/f16 inputs, else the input's dtype. */
    private static DType parameterType(Tensor x) {
        return x.dtype() == DType.BF16 || x.dtype() == DType.F16 ? DType.F32 : x.dtype();
    }

    /** x's shape with the last dim set to 1: where a per-row statistic broadcasts. */
    private static long[] rowShape(Tensor x) {
        long[] s = Aten.longs(x.shape());
        s[s.length - 1] = 1;
        return s;
    }
}
