package ai.attune.runtime.train;

import ai.attune.api.data.Example;
import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.nn.Module;
import ai.attune.api.optim.LrSchedule;
import ai.attune.api.spi.MemoryStrategy;
import ai.attune.api.spi.Method;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.plugins.lora.LoraMethod;
import ai.attune.plugins.model.llama.LlamaFamily;
import ai.attune.plugins.optim.adamw.AdamWOptimizer;
import ai.attune.runtime.data.DataSpec;
import ai.attune.runtime.data.ShippedFormats;
import ai.attune.runtime.data.TrainingData;
import ai.attune.runtime.text.Tokenizer;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/** LoRA runs on the real stories260K over Moby-Dick text, wired as the train command wires them. */
final class StoriesLoraRuns {
    static final Path STORIES = Path.of("../../shared/models/stories260K");
    static final Path MOBY = Path.of("../../shared/data/text/mobydick.txt");

    private StoriesLoraRuns() {}

    /** Moby-Dick paragraphs as {"text": ...} lines: {@code skip} paragraphs in, {@code count} of them. */
    static Path mobyDick(Path dir, String name, int skip, int count) throws IOException {
        String text = Files.readString(MOBY, StandardCharsets.UTF_8);
        List<String> lines = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        for (String para : text.split("\\n\\s*\\n")) {
            String p = para.replaceAll("\\s+", " ").trim();
            if (p.length() < 200) {
                continue;
            }
            if (skip > 0) {
                skip--;
                continue;
            }
            lines.add(json.writeValueAsString(java.util.Map.of("text", p)));
            if (lines.size() == count) {
                break;
            }
        }
        Path file = dir.resolve(name);
        Files.write(file, lines);
        return file;
    }

    static List<Example> examples(Path file) throws IOException {
        try (Tokenizer tok = Tokenizer.load(STORIES)) {
            return TrainingData.load(file, new DataSpec("text", 64, true, false, null), ShippedFormats.get("text"), tok, 512, 512).examples();
        }
    }

    /** A LoRA + AdamW setup on a freshly loaded stories260K in {@code job}. */
    static TrainingRun.Setup setup(Backend be, Scope job, String loraJson, double lr, long steps, int saveEvery, int evalEvery, long seed)
            throws IOException {
        return setup(be, job, loraJson, lr, steps, saveEvery, evalEvery, seed, null);
    }

    /** The same, with a memory strategy installed on the model ({@code memory} null: full precision). */
    @SuppressWarnings({"unchecked", "rawtypes"})
    static TrainingRun.Setup setup(Backend be, Scope job, String loraJson, double lr, long steps, int saveEvery, int evalEvery, long seed,
                                   Function<Module, MemoryStrategy.Session> memory) throws IOException {
        CausalLM lm;
        try (SafetensorsReader w = SafetensorsReader.openModelDir(STORIES)) {
            lm = (CausalLM) new LlamaFamily().load(ModelConfig.read(STORIES), w, be, DType.F32, job);
        }
        RecipeLoader loader = new RecipeLoader();
        LoraMethod lora = new LoraMethod();
        Object cfg = loader.bindConfig(new ObjectMapper().readTree(loraJson), lora.defaultConfig(), lora.configType(), "lora", "test");
        AdamWOptimizer adamw = new AdamWOptimizer();
        Object optCfg = loader.bindConfig(new ObjectMapper().readTree("{\"weight_decay\": 0.0}"), adamw.defaultConfig(), adamw.configType(),
                "train.optimizer", "test");
        MethodContext ctx = new MethodContext(be, DType.F32, job, seed, new DropoutSeeds(seed), STORIES, null);
        MemoryStrategy.Session session = memory == null ? new MemoryStrategy.Session() { } : memory.apply((Module) lm);
        return new TrainingRun.Setup(lm, (Method) lora, cfg, (Optimizer) adamw, optCfg, LrSchedule.of("linear", lr, 2, (int) steps), ctx,
                4, 2, steps, true, 1.0, evalEvery, saveEvery, session);
    }
}
