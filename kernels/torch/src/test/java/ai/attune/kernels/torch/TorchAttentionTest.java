package ai.attune.kernels.torch;

import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.api.autograd.Views;
import ai.attune.kernels.jvm.JvmBackend;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Both attention forwards (the fused ATen kernel and the composition) and the composed backward
 * against the jvm backend's scalar reference, on the shapes where the contract has corners: GQA,
 * causal with s < t and s > t (bottom-right alignment), a padding mask, rows and whole batches
 * that see no key (zeros, lse = -inf), a transposed q view.
 */
class TorchAttentionTest {
    private final JvmBackend reference = new JvmBackend(true);
    private final TorchBackend torch = new TorchBackend(new JvmBackend());

    enum Mask { NONE, PADDING, LAST_BATCH_HIDDEN }

    record Case(String name, DType dtype, int batch, int hq, int hkv, int s, int t, int d, boolean causal, Mask mask, boolean transposed) {
        @Override
        public String toString() {
            return name;
        }

        double tolerance() {
            return switch (dtype) {
                case F64 -> 1e-10;
                case F32 -> 1e-5;
                default -> 2e-2;
            };
        }
    }

    static Stream<Case> cases() {
        DType f64 = DType.F64, f32 = DType.F32, bf16 = DType.BF16;
        Mask none = Mask.NONE, pad = Mask.PADDING, hidden = Mask.LAST_BATCH_HIDDEN;
        return Stream.of(
                new Case("f64 causal gqa 4:2 padding", f64, 2, 4, 2, 33, 33, 5, true, pad, false),
                new Case("f64 causal s>t rows without keys", f64, 1, 2, 1, 20, 7, 6, true, none, false),
                new Case("f32 bidirectional d=17", f32, 2, 2, 2, 40, 40, 17, false, none, false),
                new Case("f32 causal gqa 4:2 padding", f32, 2, 4, 2, 33, 33, 5, true, pad, false),
                new Case("f32 causal s<t gqa 4:1 transposed q", f32, 2, 4, 1, 9, 40, 8, true, pad, true),
                new Case("f32 causal s>t rows without keys", f32, 1, 2, 1, 20, 7, 6, true, none, false),
                new Case("f32 fully hidden batch", f32, 2, 2, 1, 10, 10, 3, false, hidden, false),
                new Case("f32 plain causal d=64", f32, 1, 2, 1, 130, 130, 64, true, none, false),
                new Case("bf16 causal gqa padding", bf16, 2, 4, 2, 40, 40, 16, true, pad, false),
                new Case("bf16 causal s<t transposed q", bf16, 1, 2, 1, 12, 40, 24, true, none, true));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void forwardsAndBackwardMatchReference(Case c) {
        Random r = new Random(c.name().hashCode());
        double[] q = random(r, c.batch() * c.hq() * c.s() * c.d());
        double[] k = random(r, c.batch() * c.hkv() * c.t() * c.d());
        double[] v = random(r, c.batch() * c.hkv() * c.t() * c.d());
        double[] g = random(r, c.batch() * c.hq() * c.s() * c.d());
        Run want = run(reference, c, q, k, v, g, Strategy.BACKEND);
        for (Strategy strategy : Strategy.values()) {
            Run got = run(torch, c, q, k, v, g, strategy);
            if (got == null) {
                continue;
            }
            compare(c, strategy + " out", want.out, got.out);
            compare(c, strategy + " lse", want.lse, got.lse);
            compare(c, strategy + " gradQ", want.gq, got.gq);
            compare(c, strategy + " gradK", want.gk, got.gk);
            compare(c, strategy + " gradV", want.gv, got.gv);
        }
    }

    /** What computes the forward and backward: the backend's choice, or one path forced. */
    enum Strategy {
        BACKEND,
        /** The fused ATen forward, the backend's backward. */
        FLASH,
        /** The fused ATen forward and backward. */
        FLASH_BOTH,
        /** The composition in one chunk of query rows. */
        COMPOSED,
        /** The composition in chunks of 7 query rows, so chunk edges, a partial last chunk and dK/dV summed over chunks all occur. */
        CHUNKED
    }

    record Run(Strategy strategy, double[] out, double[] lse, double[] gq, double[] gk, double[] gv) {}

    private Run run(Backend be, Case c, double[] qv, double[] kv, double[] vv, double[] gv, Strategy strategy) {
        try (Scope s = Scope.open("attention test"); PointerScope p = new PointerScope()) {
            Tensor q = c.transposed()
                    ? Views.transpose(Tensors.of(be, c.dtype(), qv, c.batch(), c.s(), c.hq(), c.d()), 1, 2)
                    : Tensors.of(be, c.dtype(), qv, c.batch(), c.hq(), c.s(), c.d());
            Tensor k = Tensors.of(be, c.dtype(), kv, c.batch(), c.hkv(), c.t(), c.d());
            Tensor v = Tensors.of(be, c.dtype(), vv, c.batch(), c.hkv(), c.t(), c.d());
            Tensor g = Tensors.of(be, c.dtype(), gv, c.batch(), c.hq(), c.s(), c.d());
            Tensor mask = keyMask(be, c);
            DType stat = c.dtype() == DType.F64 ? DType.F64 : DType.F32;
            Tensor out = be.zeros(c.dtype(), new int[] {c.batch(), c.hq(), c.s(), c.d()}, s);
            Tensor lse = be.zeros(stat, new int[] {c.batch(), c.hq(), c.s()}, s);
            double scale = 1 / Math.sqrt(c.d());
            switch (strategy) {
                case BACKEND -> be.attention(q, k, v, mask, c.causal(), scale, out, lse);
                case FLASH, FLASH_BOTH -> {
                    if (!FlashAttention.accepts(q, k, v)) {
                        return null;
                    }
                    FlashAttention.forward(q, k, v, mask, c.causal(), scale, out, lse);
                }
                case COMPOSED -> Attention.forward(q, k, v, mask, c.causal(), scale, out, lse);
                case CHUNKED -> Attention.forward(q, k, v, mask, c.causal(), scale, out, lse, sevenRows(c));
            }
            Tensor gq = be.zeros(c.dtype(), q.shape(), s);
            Tensor gk = be.zeros(c.dtype(), k.shape(), s);
            Tensor gvv = be.zeros(c.dtype(), v.shape(), s);
            switch (strategy) {
                case BACKEND, FLASH -> be.attentionBackward(q, k, v, mask, c.causal(), scale, out, lse, g, gq, gk, gvv);
                case FLASH_BOTH -> FlashAttention.backward(q, k, v, mask, c.causal(), scale, out, lse, g, gq, gk, gvv);
                case COMPOSED -> Attention.backward(q, k, v, mask, c.causal(), scale, out, lse, g, gq, gk, gvv);
                case CHUNKED -> Attention.backward(q, k, v, mask, c.causal(), scale, out, lse, g, gq, gk, gvv, sevenRows(c));
            }
            return new Run(strategy, Tensors.toDoubles(out), Tensors.toDoubles(lse), Tensors.toDoubles(gq),
                    Tensors.toDoubles(gk), Tensors.toDoubles(gvv));
        }
    }

    /** A chunk budget of seven query rows' scores. */
    private static long sevenRows(Case c) {
        return 7L * Float.BYTES * c.batch() * c.hq() * c.t();
    }

    private static Tensor keyMask(Backend be, Case c) {
        if (c.mask() == Mask.NONE) {
            return null;
        }
        double[] m = new double[c.batch() * c.t()];
        java.util.Arrays.fill(m, 1);
        if (c.mask() == Mask.PADDING) {
            m[1] = 0;
            m[c.t() - 2] = 0;
            if (c.batch() > 1) {
                m[c.t()] = m[c.t() + 1] = m[c.t() + 2] = 0;
            }
        } else {
            java.util.Arrays.fill(m, (c.batch() - 1) * c.t(), c.batch() * c.t(), 0);
        }
        return Tensors.of(be, DType.I64, m, c.batch(), c.t());
    }

    private static double[] random(Random r, int n) {
        return r.doubles(n).map(x -> 2 * x - 1).toArray();
    }

    private static void compare(Case c, String what, double[] want, double[] got) {
        assertEquals(want.length, got.length, what);
        double scale = 1e-3;
        for (double w : want) {
            if (Double.isFinite(w)) {
                scale = Math.max(scale, Math.abs(w));
            }
        }
        for (int i = 0; i < want.length; i++) {
            if (want[i] == Double.NEGATIVE_INFINITY) {
                assertEquals(Double.NEGATIVE_INFINITY, got[i], c + " " + what + "[" + i + "]: a row that sees no key has lse -inf");
                continue;
            }
            double err = Math.abs(want[i] - got[i]);
            if (!(err <= c.tolerance() * scale)) {
                throw new AssertionError(c + " " + what + "[" + i + "]: " + got[i] + " vs reference " + want[i]);
            }
        }
    }
}
