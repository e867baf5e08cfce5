package ai.attune.plugins.lora;

import ai.attune.api.autograd.GradMode;
import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.plugins.model.gpt2.Gpt2Family;
import ai.attune.plugins.model.llama.LlamaFamily;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/** Models and contexts the LoRA tests share: the real stories260K and a tiny random GPT-2. */
final class Fixtures {
    /** The real pretrained stories260K (Llama architecture), relative to the module directory. */
    static final Path STORIES = Path.of("../../../shared/models/stories260K");
    static final long[] IDS = {1, 403, 407, 261, 378, 432, 383};

    private Fixtures() {}

    static Module stories(Backend be, DType dtype, Scope scope) throws IOException {
        try (SafetensorsReader w = SafetensorsReader.openModelDir(STORIES)) {
            return new LlamaFamily().load(ModelConfig.read(STORIES), w, be, dtype, scope);
        }
    }

    static MethodContext context(Backend be, DType dtype, Scope scope, long seed, Path baseDir) {
        return new MethodContext(be, dtype, scope, seed, new DropoutSeeds(seed), baseDir, null);
    }

    /** Logits [1, t, vocab] of {@code ids}, flattened, without recording a graph. */
    static double[] logits(Module model, long[] ids) {
        try (Scope s = Scope.open("logits"); GradMode.Region ng = GradMode.noGrad()) {
            Backend be = model.namedParameters().values().iterator().next().value().backend();
            Tensor out = ((CausalLM) model).forward(Tensors.ofLongs(be, ids, 1, ids.length), null, null);
            return Tensors.toDoubles(out);
        }
    }

    /** Overwrites a parameter with N(0, std^2) values rounded to f32, so f32 and f64 models agree. */
    static double[] randomize(Parameter p, Random rnd, double mean, double std) {
        double[] v = new double[Math.toIntExact(p.value().numel())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (mean + std * rnd.nextGaussian());
        }
        set(p, v);
        return v;
    }

    static void set(Parameter p, double[] values) {
        Tensor t = p.value();
        try (Scope s = Scope.open("set")) {
            t.backend().copy(Tensors.of(t.backend(), t.dtype(), values, t.shape()), t);
        }
    }

    static double[] values(Module model, String name) {
        Parameter p = model.namedParameters().get(name);
        if (p == null) {
            throw new AssertionError("no parameter " + name + " in " + model.namedParameters().keySet());
        }
        return Tensors.toDoubles(p.value());
    }

    static double maxAbsDiff(double[] a, double[] b) {
        if (a.length != b.length) {
            throw new AssertionError("lengths differ: " + a.length + " vs " + b.length);
        }
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    // ---- a tiny random GPT-2 ----

    static final int GPT2_EMBD = 16;
    static final int GPT2_VOCAB = 37;

    /** config.json of a 2-layer, 4-head GPT-2 with a tied head, written into {@code dir}. */
    static ObjectNode writeGpt2Config(Path dir) throws IOException {
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.put("model_type", "gpt2");
        c.putArray("architectures").add("GPT2LMHeadModel");
        c.put("n_embd", GPT2_EMBD);
        c.put("n_layer", 2);
        c.put("n_head", 4);
        c.put("n_positions", 32);
        c.put("vocab_size", GPT2_VOCAB);
        c.put("layer_norm_epsilon", 1e-5);
        c.put("activation_function", "gelu_new");
        c.put("tie_word_embeddings", true);
        Files.writeString(dir.resolve("config.json"), c.toPrettyString());
        return c;
    }

    /** A GPT-2 from {@code dir}'s config.json with random weights drawn from {@code seed}. */
    static Module gpt2(Path dir, long seed, Backend be, DType dtype, Scope scope) throws IOException {
        Module m = new Gpt2Family().create(ModelConfig.read(dir), be, dtype, scope);
        Random rnd = new Random(seed);
        m.namedParameters().forEach((name, p) -> {
            boolean gain = name.contains("ln_") && name.endsWith(".weight");
            randomize(p, rnd, gain ? 1.0 : 0.0, gain ? 0.1 : 0.3);
        });
        return m;
    }
}
