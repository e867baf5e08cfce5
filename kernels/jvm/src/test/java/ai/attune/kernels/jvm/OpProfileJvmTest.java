package ai.attune.kernels.jvm;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.autograd.F;
import ai.attune.api.autograd.Ops;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.OpProfile;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The jvm backend records its kernels under the profile's names, with a GEMM's FLOPs counted by hand. */
class OpProfileJvmTest {
    private final JvmBackend be = new JvmBackend();

    /**
     * y = sum(linear(linear(x, w1), w2)) with x [4, 3] (no grad), w1 [5, 3], w2 [2, 5]. GEMMs, as 2·m·n·k:
     * forward h = x w1ᵀ [4, 5], k 3: 120; y = h w2ᵀ [4, 2], k 5: 80. Backward: dh = g w2 [4, 5], k 2: 80;
     * dw2 = gᵀ h [2, 5], k 4: 80; dw1 = dhᵀ x [5, 3], k 4: 120 (x needs no gradient, so no dx). 5 calls, 480 FLOPs.
     */
    @Test
    void forwardAndBackwardRecordEveryGemmWithItsFlops() {
        try (Scope s = Scope.open("profile")) {
            Tensor x = Tensors.of(be, DType.F32, seq(12), 4, 3);
            Tensor w1 = Tensors.of(be, DType.F32, seq(15), 5, 3).requiresGrad(true);
            Tensor w2 = Tensors.of(be, DType.F32, seq(10), 2, 5).requiresGrad(true);
            OpProfile.start();
            OpProfile.Snapshot snap;
            try {
                Autograd.backward(Ops.sum(F.linear(F.linear(x, w1, null), w2, null)));
            } finally {
                snap = OpProfile.stop();
            }
            Map<String, OpProfile.Row> rows = snap.rows().stream().collect(Collectors.toMap(OpProfile.Row::name, Function.identity()));
            OpProfile.Row mm = rows.get("aten::mm");
            assertEquals(5, mm.calls(), rows.keySet().toString());
            assertEquals(480, mm.flops());
            assertTrue(rows.containsKey("aten::sum"), rows.keySet().toString());
            assertTrue(rows.get("aten::empty").bytesAllocated() >= 4L * (4 * 5 + 4 * 2), "forward outputs are allocated in aten::empty");
            assertEquals(snap.selfNanos(), snap.rows().stream().mapToLong(OpProfile.Row::selfNanos).sum());
        }
    }

    /** The row kernels record under ATen's names (attune:: for RoPE), forward and backward, on the SIMD path as on the scalar one. */
    @Test
    void rowKernelsRecordUnderTheirAtenNames() {
        try (Scope s = Scope.open("profile")) {
            Tensor x = Tensors.of(be, DType.F32, seq(4 * 37), 4, 37).requiresGrad(true);
            Tensor w = Tensors.of(be, DType.F32, seq(37), 37).requiresGrad(true);
            Tensor q = Tensors.of(be, DType.F32, seq(2 * 3 * 5 * 8), 2, 3, 5, 8).requiresGrad(true);
            Tensor positions = Tensors.ofLongs(be, new long[] {0, 1, 2, 3, 4, 7, 8, 9, 10, 11}, 2, 5);
            Tensor targets = Tensors.ofLongs(be, new long[] {3, -100, 36, 0}, 4);
            OpProfile.start();
            OpProfile.Snapshot snap;
            try {
                Tensor h = Ops.unary(ai.attune.api.tensor.UnaryOp.GELU_TANH, F.layerNorm(x, w, null, 1e-5));
                Tensor loss = Ops.add(Ops.add(F.crossEntropy(h, targets, -100, F.Reduction.MEAN), Ops.sum(Ops.mul(F.softmax(h, -1), h))),
                        Ops.sum(Ops.mul(F.rope(q, positions, F.ropeInvFreq(10000.0, 8)), q)));
                Autograd.backward(loss);
            } finally {
                snap = OpProfile.stop();
            }
            Map<String, OpProfile.Row> rows = snap.rows().stream().collect(Collectors.toMap(OpProfile.Row::name, Function.identity()));
            for (String name : new String[] {"aten::native_layer_norm", "aten::native_layer_norm_backward", "aten::gelu", "aten::gelu_backward",
                    "aten::cross_entropy_loss", "aten::cross_entropy_loss_backward", "aten::_softmax", "aten::_softmax_backward_data",
                    "attune::rope", "attune::rope_backward"}) {
                assertTrue(rows.containsKey(name), name + " in " + rows.keySet());
                assertEquals(1, rows.get(name).calls(), name);
            }
        }
    }

    private static double[] seq(int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = 0.1 * (i % 7) - 0.3;
        }
        return v;
    }
}
