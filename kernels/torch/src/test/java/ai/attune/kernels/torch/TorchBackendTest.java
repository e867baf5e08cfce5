package ai.attune.kernels.torch;

import ai.attune.api.autograd.F;
import ai.attune.api.autograd.Views;
import ai.attune.api.tensor.BinaryOp;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the conformance suite does not cover: interop with the jvm backend's memory, dropout's mask, and the errors a caller sees. */
class TorchBackendTest {
    private final JvmBackend jvm = new JvmBackend();
    private final TorchBackend torch = new TorchBackend(jvm);

    @Test
    void eachBackendReadsTheOthersTensors() {
        try (Scope s = Scope.open("interop")) {
            Tensor a = Tensors.of(jvm, new float[] {1, 2, 3, 4}, 2, 2); // jvm storage
            Tensor b = Tensors.of(torch, new float[] {10, 20}, 2); // torch storage
            Tensor out = torch.zeros(DType.F32, new int[] {2, 2}, s);
            torch.binary(BinaryOp.ADD, a, b, out); // torch reads jvm memory
            Tensor back = jvm.zeros(DType.F32, new int[] {2, 2}, s);
            jvm.binary(BinaryOp.MUL, out, a, back); // jvm reads torch memory
            assertArrayEquals(new float[] {11, 44, 39, 96}, Tensors.toFloats(back));
        }
    }

    @Test
    void dropoutDrawsTheJvmBackendsMask() {
        try (Scope s = Scope.open("dropout")) {
            double[] x = new java.util.Random(3).doubles(257).toArray();
            Tensor onTorch = F.dropout(Tensors.of(torch, DType.F32, x, 257), 0.4, 99, true);
            Tensor onJvm = F.dropout(Tensors.of(jvm, DType.F32, x, 257), 0.4, 99, true);
            assertArrayEquals(Tensors.toFloats(onJvm), Tensors.toFloats(onTorch));
        }
    }

    @Test
    void stridedViewsAreReadInPlace() {
        try (Scope s = Scope.open("views")) {
            Tensor a = Tensors.of(torch, new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
            Tensor t = Views.transpose(a, 0, 1); // [3, 2], strides [1, 3]
            Tensor out = torch.zeros(DType.F32, new int[] {3, 2}, s);
            torch.copy(t, out);
            assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, Tensors.toFloats(out));
        }
    }

    @Test
    void badShapesNameTheOpAndTheShapes() {
        try (Scope s = Scope.open("errors")) {
            Tensor a = torch.zeros(DType.F32, new int[] {2, 3}, s);
            Tensor b = torch.zeros(DType.F32, new int[] {4, 5}, s);
            Tensor out = torch.zeros(DType.F32, new int[] {2, 5}, s);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> torch.matmul(a, false, b, false, out));
            assertEquals("matmul: inner dims differ: [2, 3] @ [4, 5]", e.getMessage());
        }
    }

    @Test
    void libtorchErrorsBecomeOneLineNamingTheOp() {
        try (Scope s = Scope.open("errors")) {
            Tensor y = torch.zeros(DType.F32, new int[] {2, 3}, s);
            Tensor gradY = torch.zeros(DType.F32, new int[] {3, 2}, s); // ATen finds the mismatch
            Tensor gradX = torch.zeros(DType.F32, new int[] {2, 3}, s);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> torch.softmaxBackward(y, gradY, false, gradX));
            assertTrue(e.getMessage().startsWith("torch backend, aten::_softmax_backward_data: The size of tensor a"), e.getMessage());
            assertEquals(1, e.getMessage().lines().count(), e.getMessage());
        }
    }

    @Test
    void idsOutOfRangeAreRefusedBeforeLibtorchSeesThem() {
        try (Scope s = Scope.open("errors")) {
            Tensor w = torch.zeros(DType.F32, new int[] {5, 3}, s);
            Tensor ids = Tensors.ofLongs(torch, new long[] {1, 5}, 2);
            Tensor out = torch.zeros(DType.F32, new int[] {2, 3}, s);
            IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class, () -> torch.embedding(w, ids, out));
            assertEquals("embedding: index 5 is out of range for size 5", e.getMessage());
        }
    }
}
