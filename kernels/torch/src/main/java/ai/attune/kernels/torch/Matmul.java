package ai.attune.kernels.torch;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.Arrays;

import static ai.attune.kernels.torch.Aten.as;
import static ai.attune.kernels.torch.Aten.view;

/**
 * {@code torch.matmul} with transposes: a transposed operand is a transposed view, which the BLAS
 * (f32, f64: OpenBLAS) and oneDNN (bf16, f16: AVX512-BF16 / AMX where present, f32 accumulation)
 * read with a transpose flag rather than a copy. Batch dims broadcast as in torch.matmul.
 */
final class Matmul {
    private Matmul() {}

    static void matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor out) {
        int[] expected = Shape.matmul(a.shape(), transA, b.shape(), transB);
        if (!Arrays.equals(out.shape(), expected) || !out.isContiguous()) {
            throw new IllegalArgumentException("matmul: out must be contiguous " + Shape.str(expected) + ", got " + Shape.str(out.shape()));
        }
        var x = view(a);
        var y = view(b);
        if (transA) {
            x = x.transpose(-2, -1);
        }
        if (transB) {
            y = y.transpose(-2, -1);
        }
        // ATen multiplies operands of one dtype, and rounds its result to that dtype. So operands
        // widen to f32 (f64) whenever the output is wider than they are or they differ (a bf16
        // activation with an f32 weight): bf16 products are exact in f32, and the sum is f32 as
        // the contract says. Only same-dtype operands into the same dtype stay as they are.
        DType common = a.dtype() == DType.F64 || b.dtype() == DType.F64 || out.dtype() == DType.F64 ? DType.F64
                : out.dtype() == DType.F32 || a.dtype() != b.dtype() ? DType.F32
                : a.dtype();
        x = as(x, common);
        y = as(y, common);
        var o = view(out);
        if (common == out.dtype()) {
            torch.matmul_out(o, x, y);
        } else {
            o.copy_(torch.matmul(x, y));
        }
    }
}
