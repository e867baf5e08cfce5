package ai.attune.api.tensor;

/**
 * The names and FLOP counts under which every backend records its {@link Backend} kernels in an
 * {@link OpProfile}, shared so that the profiles of two backends line up row by row.
 *
 * <p>Names: {@code aten::<op>} with the name of the ATen op the kernel computes, as
 * torch.profiler shows it ({@code aten::mm}, {@code aten::_softmax}, {@code aten::copy_}); the
 * backward of an op that ATen has no single backward op for is the forward's name with
 * {@code _backward} ({@code aten::rms_norm_backward}, {@code aten::exp_backward}). Kernels with no
 * ATen counterpart are {@code attune::<op>} ({@code attune::rope}, {@code attune::mm_4bit}).
 *
 * <p>FLOPs are counted for the GEMM-shaped kernels alone, a multiply-add as two, as
 * torch.utils.flop_counter does: elementwise kernels are bound by memory, not arithmetic.
 */
public final class KernelOps {
    private KernelOps() {}

    public static final String ZEROS = "aten::zeros";
    public static final String EMPTY = "aten::empty";
    public static final String COPY = "aten::copy_";
    public static final String FILL = "aten::fill_";
    public static final String COPY_FROM_BYTES = "attune::copy_from_bytes";
    public static final String COPY_TO_BYTES = "attune::copy_to_bytes";
    public static final String WHERE = "aten::where";
    public static final String MM_4BIT = "attune::mm_4bit";
    /** A product plus a bias row ({@code torch.addmm}): a linear layer with its bias. */
    public static final String ADDMM = "aten::addmm";
    public static final String SOFTMAX = "aten::_softmax";
    public static final String LOG_SOFTMAX = "aten::_log_softmax";
    public static final String SOFTMAX_BACKWARD = "aten::_softmax_backward_data";
    public static final String LOG_SOFTMAX_BACKWARD = "aten::_log_softmax_backward_data";
    public static final String RMS_NORM = "aten::rms_norm";
    public static final String RMS_NORM_BACKWARD = "aten::rms_norm_backward";
    public static final String LAYER_NORM = "aten::native_layer_norm";
    public static final String LAYER_NORM_BACKWARD = "aten::native_layer_norm_backward";
    public static final String ROPE = "attune::rope";
    public static final String ROPE_BACKWARD = "attune::rope_backward";
    public static final String EMBEDDING = "aten::embedding";
    public static final String EMBEDDING_BACKWARD = "aten::embedding_dense_backward";
    public static final String INDEX_SELECT = "aten::index_select";
    public static final String INDEX_ADD = "aten::index_add_";
    public static final String CROSS_ENTROPY = "aten::cross_entropy_loss";
    public static final String CROSS_ENTROPY_BACKWARD = "aten::cross_entropy_loss_backward";
    /**
     * The output projection and cross-entropy fused over chunks of rows: its row holds the chunk
     * bookkeeping, while the products and cross-entropy kernels inside it keep their own rows.
     */
    public static final String LINEAR_CROSS_ENTROPY = "attune::linear_cross_entropy";
    public static final String DROPOUT = "aten::native_dropout";
    public static final String ATTENTION = "aten::scaled_dot_product_attention";
    public static final String ATTENTION_BACKWARD = "aten::scaled_dot_product_attention_backward";
    /** One parameter's AdamW step in one pass, as {@code torch.optim.AdamW(fused=True)} runs it. */
    public static final String FUSED_ADAMW = "aten::_fused_adamw_";

    // Names by enum ordinal, built once: a kernel call concatenates no strings.
    private static final String[] BINARY = names(BinaryOp.values(), "");
    private static final String[] SCALAR = names(ScalarOp.values(), "");
    private static final String[] UNARY = names(UnaryOp.values(), "");
    private static final String[] UNARY_BACKWARD = names(UnaryOp.values(), "_backward");
    private static final String[] REDUCE = names(ReduceOp.values(), "");

    public static String binary(BinaryOp op) {
        return BINARY[op.ordinal()];
    }

    public static String scalar(ScalarOp op) {
        return SCALAR[op.ordinal()];
    }

    public static String unary(UnaryOp op) {
        return UNARY[op.ordinal()];
    }

    public static String unaryBackward(UnaryOp op) {
        return UNARY_BACKWARD[op.ordinal()];
    }

    public static String reduce(ReduceOp op) {
        return REDUCE[op.ordinal()];
    }

    public static String softmax(boolean log) {
        return log ? LOG_SOFTMAX : SOFTMAX;
    }

    public static String softmaxBackward(boolean log) {
        return log ? LOG_SOFTMAX_BACKWARD : SOFTMAX_BACKWARD;
    }

    public static String rope(boolean inverse) {
        return inverse ? ROPE_BACKWARD : ROPE;
    }

    /** {@code aten::mm} for a 2-D product, {@code aten::bmm} for a batched one. */
    public static String matmul(Tensor out) {
        return out.rank() == 2 ? "aten::mm" : "aten::bmm";
    }

    /** 2·m·n·k per product (out [..., m, n] holds every product's m·n), k the inner dim of op(a). */
    public static double matmulFlops(Tensor a, boolean transA, Tensor out) {
        int r = a.rank();
        long k = transA ? a.shape()[r - 2] : a.shape()[r - 1];
        return 2.0 * out.numel() * k;
    }

    /**
     * Attention forward: QKᵀ and PV, 2·2·d per visible (query, key) pair per head; a causal mask
     * hides the pairs with key j > i + t - s, which the kernel skips, so they do not count.
     */
    public static double attentionFlops(Tensor q, Tensor k, boolean causal) {
        int[] qs = q.shape();
        return 4.0 * qs[0] * qs[1] * qs[3] * visiblePairs(qs[2], k.shape()[2], causal);
    }

    /** Attention backward: S recomputed, then dV, dP, dQ and dK: five products to the forward's two. */
    public static double attentionBackwardFlops(Tensor q, Tensor k, boolean causal) {
        return 2.5 * attentionFlops(q, k, causal);
    }

    private static double visiblePairs(long s, long t, boolean causal) {
        if (!causal) {
            return (double) s * t;
        }
        double pairs = 0;
        for (long i = 0; i < s; i++) {
            pairs += Math.clamp(i + t - s + 1, 0, t);
        }
        return pairs;
    }

    private static String[] names(Enum<?>[] ops, String suffix) {
        String[] names = new String[ops.length];
        for (Enum<?> op : ops) {
            names[op.ordinal()] = "aten::" + aten(op.name()) + suffix;
        }
        return names;
    }

    /** ATen's name for an op of these enums: mostly the lower-case name. */
    private static String aten(String op) {
        return switch (op) {
            case "GELU_ERF", "GELU_TANH" -> "gelu"; // one op with approximate="none" | "tanh"
            case "MAX" -> "amax";
            case "MIN" -> "amin";
            default -> op.toLowerCase(java.util.Locale.ROOT);
        };
    }
}
