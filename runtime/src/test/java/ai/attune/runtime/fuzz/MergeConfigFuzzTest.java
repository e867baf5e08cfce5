package ai.attune.runtime.fuzz;

import ai.attune.api.io.SafetensorsException;
import ai.attune.api.model.ModelLoadException;
import ai.attune.api.spi.Merger;
import ai.attune.plugins.merge.linear.LinearMerger;
import ai.attune.plugins.merge.slerp.SlerpMerger;
import ai.attune.plugins.merge.taskarithmetic.DareTiesMerger;
import ai.attune.plugins.merge.taskarithmetic.TiesMerger;
import ai.attune.runtime.merge.MergeConfig;
import ai.attune.runtime.merge.MergeException;
import ai.attune.runtime.merge.ModelMerge;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * mergekit configs, mutated, through what {@code attune merge} does before it writes: read, bind
 * against the real merge methods' schemas, and plan (open every model, check every tensor and
 * parameter). Every case is accepted or refused in one line naming the config, a key, a tensor or
 * a model file; nothing is written.
 */
class MergeConfigFuzzTest {
    static final Path STORIES = Path.of("../../shared/models/stories260K").toAbsolutePath().normalize();
    static final Map<String, Merger> MERGERS = Map.of("linear", new LinearMerger(), "ties", new TiesMerger(), "dare_ties", new DareTiesMerger(),
            "slerp", new SlerpMerger());
    static final String SEED = """
            merge_method: ties
            base_model: BASE
            models:
              - model: BASE
                parameters: {weight: [0.2, 0.8], density: 0.5}
              - model: BASE
                parameters:
                  weight: [{filter: self_attn, value: 0.3}, {value: 0.7}]
                  density: 0.9
            parameters: {normalize: true, lambda: 1.0, consensus_method: sum}
            dtype: float32
            out_dtype: bfloat16
            tokenizer_source: base
            seed: 7
            """.replace("BASE", STORIES.toString());

    @TempDir
    Path dir;

    @Test
    void mergeConfigsArePlannedOrRefusedInOneLine() throws Exception {
        JsonNode seed = new ObjectMapper(new YAMLFactory()).readTree(SEED);
        try (FuzzCampaign campaign = new FuzzCampaign("merge-config", 61, dir, MergeException.class, ModelLoadException.class,
                SafetensorsException.class)) {
            FuzzCampaign.Totals t = campaign.run(FuzzCampaign.rounds(200), (m, round) -> {
                Path file = round.resolve("merge.yaml");
                Files.write(file, m.document(seed, m.random().nextInt(5) == 0 ? Mutator.Syntax.JSON : Mutator.Syntax.YAML));
                return new FuzzCampaign.Case(List.of(file), List.of("merge.yaml", "config.json", "model.safetensors", "tensor '", "models["),
                        () -> {
                            MergeConfig c = MergeConfig.bind(file, MergeConfig.read(file), MERGERS::get, MERGERS.keySet());
                            ModelMerge.plan(c, MERGERS.get(c.method()), null, a -> List.of()).close();
                        });
            });
            FuzzCampaign.assertBothOutcomes(t, 0.05, 0.3);
        }
    }
}
