package ai.attune.plugins.lora;

import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.kernels.jvm.JvmBackend;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * LoRA on GPT-2's Conv1D {@code c_attn}, whose weight is stored [in, out] (PEFT's fan_in_fan_out):
 * the LoRA path is the usual A [r, in], B [out, r]; merging adds the transposed update.
 */
class LoraGpt2Test {
    static final long[] IDS = {3, 17, 0, 36, 8, 8, 21};
    private final JvmBackend be = new JvmBackend();

    @TempDir
    Path dir;

    @Test
    void mergedAndUnmergedLogitsAgreeOnConv1D() throws Exception {
        Fixtures.writeGpt2Config(dir);
        try (Scope job = Scope.open("job")) {
            Module m = Fixtures.gpt2(dir, 5, be, DType.F32, job);
            Map<String, double[]> base = new HashMap<>();
            m.namedParameters().forEach((n, p) -> base.put(n, Fixtures.values(m, n)));
            // target_modules unset: PEFT's default for model_type gpt2, c_attn.
            LoraConfig c = new LoraConfig(4, 8, 0, null, false, null, "none", null, null);
            List<Parameter> params = new LoraMethod().apply(m, c, Fixtures.context(be, DType.F32, job, 2, dir));
            assertEquals(List.of("transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"), List.copyOf(LoraLayers.find(m).keySet()));
            assertArrayEquals(new int[] {4, 16}, params.get(0).value().shape()); // A [r, in]
            assertArrayEquals(new int[] {48, 4}, params.get(1).value().shape()); // B [out, r]
            Random rnd = new Random(8);
            params.forEach(p -> Fixtures.randomize(p, rnd, 0, 0.2));
            double[] unmerged = Fixtures.logits(m, IDS);
            assertTrue(Fixtures.maxAbsDiff(unmerged, Fixtures.logits(Fixtures.gpt2(dir, 5, be, DType.F32, job), IDS)) > 1e-2);

            // The oracle: c_attn weights [in, out] merged by hand with the transposed update.
            Module byHand = Fixtures.gpt2(dir, 5, be, DType.F32, job);
            for (String path : LoraLayers.find(m).keySet()) {
                double[] w = LoraForwardTest.handMerged(base.get(path + ".weight"), Fixtures.values(m, path + ".lora_A.weight"),
                        Fixtures.values(m, path + ".lora_B.weight"), 4, 2.0, true);
                Fixtures.set(byHand.namedParameters().get(path + ".weight"), w);
            }
            double[] oracle = Fixtures.logits(byHand, IDS);
            double dOracle = Fixtures.maxAbsDiff(unmerged, oracle);

            LoraLayers.merge(m);
            double[] merged = Fixtures.logits(m, IDS);
            double dMerged = Fixtures.maxAbsDiff(unmerged, merged);
            System.out.printf("gpt2 c_attn LoRA: max |unmerged - hand-merged| %.3g, |unmerged - merge()| %.3g%n", dOracle, dMerged);
            assertTrue(dOracle < 1e-5, "unmerged vs hand-merged: " + dOracle);
            assertTrue(dMerged < 1e-5, "unmerged vs merge(): " + dMerged);
            LoraLayers.unmerge(m);
            double restored = Fixtures.maxAbsDiff(base.get("transformer.h.1.attn.c_attn.weight"), Fixtures.values(m, "transformer.h.1.attn.c_attn.weight"));
            assertTrue(restored < 1e-6, "unmerge: " + restored);

            Path out = dir.resolve("adapter");
            new LoraMethod().save(m, c, Fixtures.context(be, DType.F32, job, 2, dir), out);
            JsonNode cfg = new ObjectMapper().readTree(Files.readString(out.resolve("adapter_config.json")));
            assertTrue(cfg.get("fan_in_fan_out").booleanValue());
            assertEquals("[\"c_attn\"]", cfg.get("target_modules").toString());
            Module fresh = Fixtures.gpt2(dir, 5, be, DType.F32, job);
            LoraAdapter.read(out).mergeInto(fresh);
            double dPeft = Fixtures.maxAbsDiff(unmerged, Fixtures.logits(fresh, IDS));
            System.out.printf("gpt2 PEFT round trip: max |diff| %.3g%n", dPeft);
            assertTrue(dPeft < 1e-5, "LoraAdapter merge of the saved adapter: " + dPeft);
        }
    }
}
