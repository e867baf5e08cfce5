package ai.attune.api.autograd;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;

import java.util.function.Supplier;

/**
 * {@code a @ op(w)} for a frozen weight that exists only while a product reads it: the forward
 * materializes w, multiplies and releases it, and the backward materializes it again for
 * {@code grad_a}. So no dense copy of a quantized weight outlives its matmul, at the price of a
 * second dequantization in backward (the QLoRA trade). w gets no gradient.
 */
final class SourcedMatmul extends Function {
    private final Supplier<Tensor> weight;
    private final boolean transB;

    SourcedMatmul(Supplier<Tensor> weight, boolean transB) {
        this.weight = weight;
        this.transB = transB;
    }

    @Override
    protected Tensor[] forward(Context ctx, Tensor... inputs) {
        DType low = Autocast.dtype();
        ctx.put("autocast", low); // backward runs outside the region but must multiply in the same dtype
        return new Tensor[] {product(inputs[0], transB, low)};
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor... gradOutputs) {
        return new Tensor[] {product(gradOutputs[0], !transB, ctx.get("autocast"))}; // grad_a = g @ op(w)^T
    }

    /** {@code left @ op(w)} with w made for this product alone (and cast as autocast would), then given back. */
    private Tensor product(Tensor left, boolean trans, DType low) {
        Tensor w = weight.get();
        Tensor wc = low != null && w.dtype() == DType.F32 ? Ops.to(w, low) : w;
        Tensor out = Ops.matmul(left, false, wc, trans);
        if (wc != w) {
            wc.storage().release();
        }
        w.storage().release();
        return out;
    }

    @Override
    protected String name() {
        return "SourcedMatmul";
    }
}
