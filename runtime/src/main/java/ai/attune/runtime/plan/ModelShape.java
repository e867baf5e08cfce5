package ai.attune.runtime.plan;

import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.ModelLoadException;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The sizes memory depends on, read from a Llama-architecture {@code config.json} with the keys
 * and defaults the model-llama family reads (Llama 2/3, Mistral, Qwen2, SmolLM, TinyLlama). No
 * weights are read: a model directory holding only its config.json can be planned.
 *
 * @param qkvBias q/k/v projections carry a bias (Qwen2, or {@code attention_bias})
 * @param outputBias o_proj carries a bias ({@code attention_bias})
 */
public record ModelShape(String modelType, int hidden, int intermediate, int layers, int heads, int kvHeads, int headDim, int vocab,
                         int maxPositions, boolean tiedEmbeddings, boolean qkvBias, boolean outputBias, boolean mlpBias) {

    private static final Set<String> LLAMA_TYPES = Set.of("llama", "mistral", "qwen2");
    private static final Set<String> LLAMA_ARCHITECTURES = Set.of("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM");

    /** One parameter tensor: its path, and [rows, cols] for a matrix or [rows] (cols 0) for a vector. */
    public record Weight(String path, long rows, long cols) {
        public long elements() {
            return cols == 0 ? rows : rows * cols;
        }

        public boolean matrix() {
            return cols != 0;
        }
    }

    /**
     * A linear layer by module path. {@code productInput}: its input is another product (attention's
     * merged heads, the SwiGLU product), which autocast already holds in bf16; the others read a
     * norm's f32 output and cast it down first.
     */
    public record Linear(String path, int in, int out, boolean bias, boolean productInput) {}

    /** The shape of the model in {@code config}; a family other than Llama's is refused by name. */
    public static ModelShape of(ModelConfig c) throws ModelLoadException {
        String type = c.modelType();
        if (!LLAMA_TYPES.contains(type) && c.architectures().stream().noneMatch(LLAMA_ARCHITECTURES::contains)) {
            throw c.error("model_type '" + type + "': the memory planner knows the llama family (llama, mistral, qwen2) so far");
        }
        int hidden = positive(c, "hidden_size", c.requireInt("hidden_size"));
        int heads = positive(c, "num_attention_heads", c.requireInt("num_attention_heads"));
        int kvHeads = positive(c, "num_key_value_heads", c.intOr("num_key_value_heads", heads));
        int headDim = positive(c, "head_dim", c.intOr("head_dim", hidden / heads));
        boolean attentionBias = c.boolOr("attention_bias", false);
        return new ModelShape(type, hidden, positive(c, "intermediate_size", c.requireInt("intermediate_size")),
                positive(c, "num_hidden_layers", c.requireInt("num_hidden_layers")), heads, kvHeads, headDim,
                positive(c, "vocab_size", c.requireInt("vocab_size")), positive(c, "max_position_embeddings", c.intOr("max_position_embeddings", 2048)),
                c.boolOr("tie_word_embeddings", false), type.equals("qwen2") || attentionBias, attentionBias, c.boolOr("mlp_bias", false));
    }

    private static int positive(ModelConfig c, String key, int value) throws ModelLoadException {
        if (value <= 0) {
            throw c.error("key '" + key + "' must be a positive integer, found " + value);
        }
        return value;
    }

    /** Width of the query projection's output, heads x head_dim. */
    public int qWidth() {
        return heads * headDim;
    }

    /** Width of the key and value projections' outputs, kv heads x head_dim. */
    public int kvWidth() {
        return kvHeads * headDim;
    }

    /** The linear layers of decoder layer {@code i}, in forward order. */
    public List<Linear> layerLinears(int i) {
        String p = "model.layers." + i + ".";
        return List.of(
                new Linear(p + "self_attn.q_proj", hidden, qWidth(), qkvBias, false),
                new Linear(p + "self_attn.k_proj", hidden, kvWidth(), qkvBias, false),
                new Linear(p + "self_attn.v_proj", hidden, kvWidth(), qkvBias, false),
                new Linear(p + "self_attn.o_proj", qWidth(), hidden, outputBias, true),
                new Linear(p + "mlp.gate_proj", hidden, intermediate, mlpBias, false),
                new Linear(p + "mlp.up_proj", hidden, intermediate, mlpBias, false),
                new Linear(p + "mlp.down_proj", intermediate, hidden, mlpBias, true));
    }

    /** The output head, {@code lm_head}: the embedding matrix itself when tied. */
    public Linear head() {
        return new Linear("lm_head", hidden, vocab, false, false);
    }

    /** Every linear layer, the head last: what LoRA's target_modules choose from. */
    public List<Linear> linears() {
        List<Linear> out = new ArrayList<>();
        for (int i = 0; i < layers; i++) {
            out.addAll(layerLinears(i));
        }
        out.add(head());
        return out;
    }

    /** Every parameter tensor once (a tied head is the embedding), as the model registers them. */
    public List<Weight> weights() {
        List<Weight> out = new ArrayList<>();
        out.add(new Weight("model.embed_tokens.weight", vocab, hidden));
        for (int i = 0; i < layers; i++) {
            for (Linear l : layerLinears(i)) {
                out.add(new Weight(l.path() + ".weight", l.out(), l.in()));
                if (l.bias()) {
                    out.add(new Weight(l.path() + ".bias", l.out(), 0));
                }
            }
            out.add(new Weight("model.layers." + i + ".input_layernorm.weight", hidden, 0));
            out.add(new Weight("model.layers." + i + ".post_attention_layernorm.weight", hidden, 0));
        }
        out.add(new Weight("model.norm.weight", hidden, 0));
        if (!tiedEmbeddings) {
            out.add(new Weight("lm_head.weight", vocab, hidden));
        }
        return out;
    }

    public long parameterCount() {
        return weights().stream().mapToLong(Weight::elements).sum();
    }

    /** "llama, 109.5M parameters, 12 layers, hidden 768". */
    public String describe() {
        return String.format(java.util.Locale.ROOT, "%s, %s parameters, %d layers, hidden %d, vocab %d", modelType, count(parameterCount()),
                layers, hidden, vocab);
    }

    static String count(long n) {
        if (n >= 1_000_000_000L) {
            return String.format(java.util.Locale.ROOT, "%.2fB", n / 1e9);
        }
        return n >= 1_000_000 ? String.format(java.util.Locale.ROOT, "%.1fM", n / 1e6) : String.format(java.util.Locale.ROOT, "%,d", n);
    }
}
