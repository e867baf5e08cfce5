package ai.attune.runtime.merge;

import ai.attune.api.spi.MergeParameter;
import ai.attune.api.spi.MergeTensor;
import ai.attune.api.spi.Merger;
import ai.attune.api.spi.TensorMerge;
import ai.attune.api.tensor.DType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** mergekit's config schema and its parameter settings, evaluated per tensor as mergekit does. */
class MergeConfigTest {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    /** A merge method's schema as the task-arithmetic family declares it; its maths are not needed here. */
    private static final Merger SCHEMA = new Merger() {
        @Override
        public List<MergeParameter> parameters() {
            return List.of(MergeParameter.optional("normalize", true), MergeParameter.optional("lambda", 1.0));
        }

        @Override
        public List<MergeParameter> tensorParameters() {
            return List.of(MergeParameter.required("weight"), MergeParameter.optional("density", 1.0));
        }

        @Override
        public boolean requiresBaseModel() {
            return true;
        }

        @Override
        public String referenceUrl() {
            return "";
        }

        @Override
        public TensorMerge begin(MergeTensor tensor) {
            throw new UnsupportedOperationException();
        }
    };

    private static JsonNode yaml(String s) throws Exception {
        return YAML.readTree(s);
    }

    private static MergeConfig bind(String s) throws Exception {
        return MergeConfig.bind(Path.of("merge.yaml"), (ObjectNode) yaml(s), n -> n.equals("ties") ? SCHEMA : null, Set.of("ties"));
    }

    @Test
    void gradientsInterpolateAtTheTensorsDepth() throws Exception {
        JsonNode g = yaml("[0.2, 0.4, 0.8]");
        assertEquals(0.2, (double) ParameterSetting.evaluate(g, "x", 0), 1e-12);
        // t = 0.75: scaled 1.5 -> halfway between 0.4 and 0.8
        assertEquals(0.6, (double) ParameterSetting.evaluate(g, "x", 0.75), 1e-12);
        assertEquals(0.8, (double) ParameterSetting.evaluate(g, "x", 1), 1e-12);
    }

    @Test
    void conditionsTakeTheFirstMatchingFilterAndFallThroughOtherwise() throws Exception {
        JsonNode c = yaml("[{filter: self_attn, value: [0, 1]}, {filter: mlp, value: 0.9}]");
        assertEquals(0.5, (double) ParameterSetting.evaluate(c, "model.layers.1.self_attn.q_proj.weight", 0.5), 1e-12);
        assertEquals(0.9, (double) ParameterSetting.evaluate(c, "model.layers.1.mlp.up_proj.weight", 0.5), 1e-12);
        assertNull(ParameterSetting.evaluate(c, "model.norm.weight", 0), "no match: the next level decides");
        assertEquals(0.3, (double) ParameterSetting.evaluate(yaml("[{filter: '*', value: 0.3}]"), "lm_head.weight", 0), 1e-12);
    }

    @Test
    void aConfigBindsWithItsTypes() throws Exception {
        MergeConfig c = bind("""
                merge_method: ties
                base_model: base
                models:
                  - model: a
                    parameters: {weight: [0.1, 0.9], density: 0.5}
                  - b
                parameters: {normalize: false}
                dtype: bfloat16
                out_dtype: torch.float16
                seed: 3
                """);
        assertEquals("ties", c.method());
        assertEquals(List.of("a", "b"), c.models().stream().map(MergeConfig.Model::model).toList());
        assertEquals(DType.BF16, c.dtype());
        assertEquals(DType.F16, c.outDtype());
        assertEquals(3L, c.seed());
    }

    @Test
    void mistakesAreOneLineWithThePathAndTheNearestName() {
        assertEquals("merge.yaml: unknown key 'base_modle' (did you mean 'base_model'?)",
                assertThrows(MergeException.class, () -> bind("merge_method: ties\nbase_modle: x\nmodels: [a]\n")).getMessage());
        assertEquals("merge.yaml: models[0].parameters: 'lambda' is a parameter of the whole merge: put it under the top-level parameters",
                assertThrows(MergeException.class, () -> bind("merge_method: ties\nbase_model: x\nmodels: [{model: a, parameters: {lambda: 1}}]\n"))
                        .getMessage());
        assertEquals("merge.yaml: models[0].parameters: unknown parameter 'densty' (did you mean 'density'?); this method takes [weight, density]",
                assertThrows(MergeException.class, () -> bind("merge_method: ties\nbase_model: x\nmodels: [{model: a, parameters: {densty: 1}}]\n"))
                        .getMessage());
        assertTrue(assertThrows(MergeException.class, () -> bind("merge_method: ties\nbase_model: x\nslices: []\nmodels: [a]\n"))
                .getMessage().contains("'slices' is not supported"));
        assertEquals("merge.yaml: dtype: 'float8' is not one of float32, bfloat16, float16",
                assertThrows(MergeException.class, () -> bind("merge_method: ties\nbase_model: x\nmodels: [a]\ndtype: float8\n")).getMessage());
        assertTrue(assertThrows(MergeException.class, () -> bind("merge_method: ties\nbase_model: x\nmodels: [{model: a, parameters: {weight: {x: 1}}}]\n"))
                .getMessage().startsWith("merge.yaml: models[0].parameters.weight: unknown key 'x' in a condition"));
        assertEquals("merge.yaml: merge_method ties needs base_model (task vectors are differences from it)",
                assertThrows(MergeException.class, () -> bind("merge_method: ties\nmodels: [a]\n")).getMessage());
        assertEquals("merge.yaml: merge_method 'tie' is not installed (did you mean 'ties'?); installed: [ties]",
                assertThrows(MergeException.class, () -> bind("merge_method: tie\nmodels: [a]\n")).getMessage());
    }

    @Test
    void shardSizesReadAsTransformersWritesThem() {
        assertEquals(5_000_000_000L, ShardSize.parse("5GB"));
        assertEquals(500L << 20, ShardSize.parse("500MiB"));
        assertEquals(1234, ShardSize.parse("1234"));
        assertThrows(MergeException.class, () -> ShardSize.parse("5 parsecs"));
    }
}
