package ai.attune.plugins.lora;

import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static ai.attune.plugins.lora.Fixtures.IDS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * lora_dropout: masks come from the job's dropout seed sequence (one seed per LoRA call), so a
 * replayed micro-batch draws the same masks; eval mode and the base path see no dropout.
 */
class LoraDropoutTest {
    private final JvmBackend be = new JvmBackend();

    @Test
    void masksFollowTheSeedSequenceAndOnlyInTraining() throws Exception {
        try (Scope job = Scope.open("job")) {
            Module m = Fixtures.stories(be, DType.F32, job);
            MethodContext ctx = Fixtures.context(be, DType.F32, job, 11, null);
            LoraConfig c = new LoraConfig(4, 8, 0.5, TargetModules.of("q_proj", "v_proj"), false, null, "none", null, null);
            List<Parameter> params = new LoraMethod().apply(m, c, ctx);
            Random rnd = new Random(1);
            params.forEach(p -> Fixtures.randomize(p, rnd, 0, 0.1));
            DropoutSeeds seeds = ctx.dropout();

            double[] eval = Fixtures.logits(m, IDS);
            m.setTraining(true);
            seeds.startMicroBatch(3, 0);
            double[] first = Fixtures.logits(m, IDS);
            // One seed per LoRA layer call: 10 adapted layers, so the 11th seed is next.
            DropoutSeeds replay = new DropoutSeeds(11);
            replay.startMicroBatch(3, 0);
            for (int i = 0; i < 10; i++) {
                replay.next();
            }
            assertEquals(replay.next(), seeds.next());

            seeds.startMicroBatch(3, 0);
            assertArrayEquals(first, Fixtures.logits(m, IDS), "the same micro-batch replays the same masks");
            seeds.startMicroBatch(4, 0);
            double[] other = Fixtures.logits(m, IDS);
            assertTrue(Fixtures.maxAbsDiff(first, other) > 1e-3, "another step draws other masks");
            assertTrue(Fixtures.maxAbsDiff(first, eval) > 1e-3, "training applies dropout");

            m.setTraining(false);
            seeds.startMicroBatch(9, 1);
            assertArrayEquals(eval, Fixtures.logits(m, IDS), "eval mode ignores dropout");

            // Dropout sits on the LoRA path only: with B = 0 training equals the base model exactly.
            for (LoraLayer l : LoraLayers.find(m).values()) {
                Fixtures.set(l.loraB().weight(), new double[Math.toIntExact(l.loraB().weight().value().numel())]);
            }
            m.setTraining(true);
            seeds.startMicroBatch(3, 0);
            assertArrayEquals(Fixtures.logits(Fixtures.stories(be, DType.F32, job), IDS), Fixtures.logits(m, IDS));
        }
    }
}
