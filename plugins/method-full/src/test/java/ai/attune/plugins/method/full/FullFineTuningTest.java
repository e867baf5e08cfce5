package ai.attune.plugins.method.full;

import ai.attune.api.autograd.GradMode;
import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.model.llama.LlamaFamily;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Full fine-tuning on the real stories260K: everything trains, and the saved directory loads back. */
class FullFineTuningTest {
    static final Path STORIES = Path.of("../../../shared/models/stories260K");
    static final long[] IDS = {1, 403, 407, 261, 378, 432, 383};
    private final JvmBackend be = new JvmBackend();

    @TempDir
    Path tmp;

    Module load(Path dir, Scope scope) throws Exception {
        try (SafetensorsReader w = SafetensorsReader.openModelDir(dir)) {
            return new LlamaFamily().load(ModelConfig.read(dir), w, be, DType.F32, scope);
        }
    }

    double[] logits(Module m) {
        try (Scope s = Scope.open("logits"); GradMode.Region ng = GradMode.noGrad()) {
            Tensor out = ((CausalLM) m).forward(Tensors.ofLongs(be, IDS, 1, IDS.length), null, null);
            return Tensors.toDoubles(out);
        }
    }

    MethodContext context(Scope scope) {
        return new MethodContext(be, DType.F32, scope, 1, new DropoutSeeds(1), STORIES, null);
    }

    @Test
    void applyTrainsEveryParameterInNamedParametersOrder() throws Exception {
        try (Scope job = Scope.open("job")) {
            Module m = load(STORIES, job);
            m.namedParameters().values().forEach(p -> p.setTrainable(false));
            List<Parameter> params = new FullFineTuning().apply(m, FullConfig.DEFAULTS, context(job));
            List<Parameter> expected = new ArrayList<>(m.namedParameters().values());
            assertEquals(expected.size(), params.size());
            for (int i = 0; i < params.size(); i++) {
                assertSame(expected.get(i), params.get(i));
                assertTrue(params.get(i).trainable());
                assertTrue(params.get(i).value().requiresGrad());
            }
            // The tied head shares embed_tokens' weight, listed once: 1 embedding + 5 * 9 + 1 norm.
            assertEquals(1 + 5 * 9 + 1, params.size());
        }
    }

    @Test
    void savedDirectoryLoadsBackToIdenticalLogits() throws Exception {
        Path out = tmp.resolve("model");
        try (Scope job = Scope.open("job")) {
            Module m = load(STORIES, job);
            new FullFineTuning().apply(m, FullConfig.DEFAULTS, context(job));
            // Stand-in for training: move one weight, so the saved file cannot just be the base's.
            Parameter w = m.namedParameters().get("model.layers.2.mlp.up_proj.weight");
            double[] v = Tensors.toDoubles(w.value());
            Random rnd = new Random(3);
            for (int i = 0; i < v.length; i++) {
                v[i] += (float) (0.05 * rnd.nextGaussian());
            }
            try (Scope s = Scope.open()) {
                be.copy(Tensors.of(be, DType.F32, v, w.value().shape()), w.value());
            }
            double[] want = logits(m);
            new FullFineTuning().save(m, FullConfig.DEFAULTS, context(job), out);

            assertTrue(Files.isRegularFile(out.resolve("config.json")));
            assertTrue(Files.isRegularFile(out.resolve("tokenizer.json")));
            Module back = load(out, job);
            assertArrayEquals(want, logits(back), "the saved model reproduces the trained logits bit for bit");
            double[] base = logits(load(STORIES, job));
            double moved = 0;
            for (int i = 0; i < want.length; i++) {
                moved = Math.max(moved, Math.abs(want[i] - base[i]));
            }
            assertTrue(moved > 1e-3, "the edited weight should show in the logits, moved by " + moved);
        }
    }

    @Test
    void theConfigIsAnEmptyBlock() throws Exception {
        ObjectMapper strict = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
        assertEquals(FullConfig.DEFAULTS, strict.readValue("{}", FullConfig.class));
        // The runtime binds a recipe's block over the serialised defaults.
        assertEquals("{}", strict.valueToTree(FullConfig.DEFAULTS).toString());
        assertEquals(FullConfig.DEFAULTS, strict.treeToValue(strict.valueToTree(FullConfig.DEFAULTS), FullConfig.class));
        assertThrows(UnrecognizedPropertyException.class, () -> strict.readValue("{\"lr\": 1}", FullConfig.class));
        assertEquals(FullConfig.class, new FullFineTuning().configType());
    }
}
