package ai.attune.plugins.prompttuning;

import ai.attune.api.autograd.F;
import ai.attune.api.autograd.GradMode;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.ModelHooks;
import ai.attune.api.model.PromptLearningAdapter;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.Method;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.api.text.TextTokenizer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.osgi.service.component.annotations.Component;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Prompt tuning (Lester et al. 2021) with PEFT's semantics and adapter format: P learned virtual
 * token embeddings in front of the input of a frozen causal LM, through the model's
 * {@link ModelHooks.VirtualTokens} hook. Positions run 0..P+t-1 and the labels get P copies of
 * -100 in front, so the last virtual token predicts the first real token.
 */
@Component(service = Method.class, property = Method.PROPERTY + "=prompt_tuning")
public final class PromptTuningMethod implements Method<PromptTuningConfig> {
    static final String CONFIG = PromptLearningAdapter.CONFIG;

    @Override
    public Class<PromptTuningConfig> configType() {
        return PromptTuningConfig.class;
    }

    @Override
    public PromptTuningConfig defaultConfig() {
        return PromptTuningConfig.DEFAULTS;
    }

    @Override
    public List<Parameter> apply(Module model, PromptTuningConfig c, MethodContext ctx) throws IOException {
        if (!(model instanceof CausalLM lm)) {
            throw new IllegalArgumentException("prompt tuning needs a causal language model, not " + model.getClass().getSimpleName());
        }
        if (model.children().containsKey(PromptEncoder.NAME)) {
            throw new IllegalStateException("the model already carries a prompt encoder; apply prompt tuning to a fresh base model");
        }
        ModelHooks.Dims d = lm.hooks().dims();
        int p = c.numVirtualTokens();
        float[] init = c.initFrom() != null ? load(Path.of(c.initFrom()), p, d.hidden())
                : c.promptTuningInit().equals("TEXT") ? fromText(lm, ctx.tokenizer(), c.promptTuningInitText(), p)
                : random(ctx.seed(), p * d.hidden());
        for (Parameter param : model.namedParameters().values()) {
            param.setTrainable(false);
        }
        Tensor value = ctx.backend().zeros(DType.F32, new int[] {p, d.hidden()}, ctx.scope()); // [P, hidden]
        ctx.backend().copyFromBytes(MemorySegment.ofArray(init), value);
        PromptEncoder encoder = model.addChild(PromptEncoder.NAME, new PromptEncoder(value));
        lm.hooks().setVirtualTokens(() -> encoder.weight().value());
        return List.of(encoder.weight());
    }

    /** {@code torch.nn.Embedding}'s initialisation, N(0, 1), from a stream seeded by the run. */
    static float[] random(long seed, int n) {
        SplittableRandom rng = new SplittableRandom(seed ^ 0x70726f6d70744cL); // "promptL": a stream of its own
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) rng.nextGaussian();
        }
        return out;
    }

    /**
     * PEFT's {@code TEXT} initialisation: the text's ids as the base model's tokenizer gives them
     * ({@code tokenizer(text)["input_ids"]}, BOS included where the tokenizer adds it), cut to the
     * first P or repeated until there are P, and the model's input-embedding rows of those ids,
     * copied in f32. [P * hidden], row-major.
     */
    static float[] fromText(CausalLM lm, TextTokenizer tokenizer, String text, int p) {
        if (tokenizer == null) {
            throw new IllegalStateException("prompt_tuning_init TEXT tokenizes prompt_tuning_init_text with the base model's tokenizer, and this job has none");
        }
        long[] ids = tokenizer.encode(text);
        if (ids.length == 0) {
            throw new IllegalArgumentException("prompt_tuning_init_text '" + text + "' gives no tokens; use a text of at least one token");
        }
        // PEFT repeats the list ceil(P / n) times and keeps the first P, which is id i mod n at slot i (and the first P when n > P).
        long[] slots = new long[p];
        for (int i = 0; i < p; i++) {
            slots[i] = ids[i % ids.length];
        }
        Tensor table = lm.inputEmbeddings().weight().value(); // [vocab, hidden]
        try (Scope tmp = Scope.open("prompt-init"); GradMode.Region ng = GradMode.noGrad()) {
            return Tensors.toFloats(F.embedding(table, Tensors.ofLongs(table.backend(), slots, p))); // [P, hidden]
        }
    }

    static float[] load(Path dir, int p, int hidden) throws IOException {
        return PromptLearningAdapter.read(dir, p, hidden, "hidden size");
    }

    @Override
    public void save(Module model, PromptTuningConfig c, MethodContext ctx, Path out) throws IOException {
        PromptEncoder encoder = (PromptEncoder) model.children().get(PromptEncoder.NAME);
        ModelHooks.Dims d = ((CausalLM) model).hooks().dims();
        float[] weights = Tensors.toFloats(encoder.weight().value());
        ObjectNode cfg = PromptLearningAdapter.config("PROMPT_TUNING", c.numVirtualTokens(), d.hidden(), d.layers(), d.heads(), ctx.baseModelDir());
        cfg.put("prompt_tuning_init", c.promptTuningInit());
        cfg.put("prompt_tuning_init_text", c.promptTuningInitText());
        cfg.putNull("tokenizer_kwargs");
        // PEFT refuses a TEXT config without the tokenizer that read the text: the base model's.
        if (c.promptTuningInit().equals("TEXT") && ctx.baseModelDir() != null) {
            cfg.put("tokenizer_name_or_path", ctx.baseModelDir().toString());
        } else {
            cfg.putNull("tokenizer_name_or_path");
        }
        PromptLearningAdapter.write(out, cfg, weights, c.numVirtualTokens(), d.hidden());
    }

    @Override
    public boolean recognizes(com.fasterxml.jackson.databind.JsonNode c) {
        return c.path("peft_type").asText("").equals("PROMPT_TUNING");
    }

    /** The saved virtual tokens installed for inference (they still answer to the optimizer if trained further). */
    @Override
    public void load(Module model, Path dir, MethodContext context) throws IOException {
        int p = new ObjectMapper().readTree(dir.resolve(CONFIG).toFile()).path("num_virtual_tokens").asInt(0);
        apply(model, new PromptTuningConfig(p, "RANDOM", null, dir.toString()), context);
    }

    /** The soft prompt's Frobenius norm. */
    @Override
    public void metrics(Module model, PromptTuningConfig config, ai.attune.api.spi.Metrics sink) {
        if (model.children().get(PromptEncoder.NAME) instanceof PromptEncoder encoder) {
            double sq = 0;
            for (float x : Tensors.toFloats(encoder.weight().value())) {
                sq += (double) x * x;
            }
            sink.record("prompt_norm", Math.sqrt(sq));
        }
    }
}
