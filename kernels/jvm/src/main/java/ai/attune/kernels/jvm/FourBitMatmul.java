package ai.attune.kernels.jvm;

import ai.attune.api.tensor.Blockwise4Bit;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.NativeStorage;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.kernels.jvm.gemm.FourBitBlocks;
import ai.attune.kernels.jvm.gemm.Gemm;

import java.lang.foreign.MemorySegment;

/**
 * {@code op(a) @ op(b)} for a blockwise 4-bit b on the packed GEMM, which decodes b's codes while it
 * packs them (as it widens bf16): the product reads half a byte per weight and never makes b dense.
 */
final class FourBitMatmul {
    private FourBitMatmul() {}

    /**
     * Runs the product and returns true, or returns false (having done nothing) where the GEMM
     * cannot take the operands as they are: a of rank other than 2 or of f64, or parts that are
     * not host memory. The caller then takes the dequantizing default.
     */
    static boolean matmul(JvmBackend be, Gemm gemm, Tensor a, boolean transA, Blockwise4Bit b, boolean transB, Tensor out) {
        if (a.rank() != 2 || a.dtype() == DType.F64 || !a.dtype().isFloatingPoint()
                || !(b.codes().storage() instanceof NativeStorage codes) || !(b.absmax().storage() instanceof NativeStorage absmax)) {
            return false;
        }
        int m = transA ? a.size(1) : a.size(0);
        int k = transA ? a.size(0) : a.size(1);
        int n = transB ? b.rows() : b.cols();
        if ((transB ? b.cols() : b.rows()) != k) {
            throw new IllegalArgumentException("matmul: op(a) is [" + m + ", " + k + "] but op(b) is " + (transB ? "[" + b.cols() + ", " + b.rows() + "]"
                    : "[" + b.rows() + ", " + b.cols() + "]"));
        }
        if (out.rank() != 2 || out.size(0) != m || out.size(1) != n || !out.isContiguous()) {
            throw new IllegalArgumentException("matmul: out must be contiguous [" + m + ", " + n + "]");
        }
        FourBitBlocks blocks = new FourBitBlocks(codes.segment().asSlice(b.codes().offset()), b.codeValues(),
                absmax.segment().asSlice(b.absmax().offset() * Float.BYTES), b.blocksize(), b.numel());
        try (Scope tmp = Scope.detached("4-bit matmul")) {
            Tensor a2 = Matmul.gemmable(be, a, tmp);
            Matmul.Layout la = Matmul.layout(a2, transA);
            Tensor c = out.dtype() == DType.F32 ? out : be.empty(DType.F32, new int[] {m, n}, tmp);
            MemorySegment cs = Elementwise.seg(c);
            gemm.gemm(la.trans(), transB, m, n, k, 1f, Elementwise.seg(a2), a2.offset(), la.ld(), Matmul.type(a2.dtype()),
                    blocks, 0f, cs, c.offset(), n);
            if (c != out) {
                be.copy(c, out);
            }
        }
        return true;
    }
}
