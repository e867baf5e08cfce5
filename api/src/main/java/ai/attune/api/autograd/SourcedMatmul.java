package ai.attune.api.autograd;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;

/**
 * {@code a @ op(w)} for a frozen weight that exists only while a product reads it: the forward
 * asks {@link WeightProduct} for {@code a @ op(w)}, and the backward asks it again for
 * {@code grad_a = g @ op(w)^T}. So no dense copy of a quantized weight outlives its matmul, at the
 * price of a second dequantization in backward (the QLoRA trade), or none at all where the product
 * decodes the weight as it goes. w gets no gradient.
 */
final class SourcedMatmul extends Function {
    private final WeightProduct weight;
    private final boolean transB;

    SourcedMatmul(WeightProduct weight, boolean transB) {
        this.weight = weight;
        this.transB = transB;
    }

    @Override
    protected Tensor[] forward(Context ctx, Tensor... inputs) {
        ctx.put("autocast", Autocast.dtype()); // backward runs outside the region but must multiply in the same dtype
        return new Tensor[] {weight.multiply(inputs[0], transB)};
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor... gradOutputs) {
        DType low = ctx.get("autocast");
        try (Autocast.Region ignored = low == null ? Autocast.disable() : Autocast.enable(low)) {
            return new Tensor[] {weight.multiply(gradOutputs[0], !transB)}; // grad_a = g @ op(w)^T
        }
    }

    @Override
    protected String name() {
        return "SourcedMatmul";
    }
}
