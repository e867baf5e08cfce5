package ai.attune.runtime.train;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.nn.Parameter;
import ai.attune.api.tensor.BlockPool;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.api.data.Example;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One LoRA micro-batch on the pretrained stories260K, with dropout on: the adapters' gradients are
 * the same bits whether backward gives memory back as it goes or keeps it all to the scope's end,
 * and the tensor service's peak is lower with it.
 */
class ReleaseOnStoriesTest {
    @TempDir
    Path dir;

    record Step(List<float[]> grads, long peak) {}

    Step step(List<Example> rows, boolean release) throws Exception {
        Autograd.setReleaseAsYouGo(release);
        JvmBackend be = new JvmBackend();
        try (Scope job = Scope.open("job")) {
            TrainingRun.Setup s = StoriesLoraRuns.setup(be, job, ResumeTest.LORA, 1e-3, 1, 0, 0, 5);
            List<Parameter> trainable = s.method().apply(s.model().module(), s.methodConfig(), s.context());
            s.model().module().setTraining(true);
            s.model().module().setDropoutSeeds(s.context().dropout());
            s.context().dropout().startMicroBatch(0, 0);
            MicroBatch mb = MicroBatch.of(rows, 0);
            long peak;
            try (Scope micro = Scope.open("micro-batch")) {
                BlockPool.resetPeak();
                Tensor loss = Perplexity.nllSum(s.model(), mb, be);
                Autograd.backward(loss);
                peak = BlockPool.peakBytes();
            }
            List<float[]> grads = new ArrayList<>();
            for (Parameter p : trainable) {
                grads.add(Tensors.toFloats(p.value().grad()));
            }
            return new Step(grads, peak);
        }
    }

    @AfterEach
    void on() {
        Autograd.setReleaseAsYouGo(true);
    }

    @Test
    void sameGradientBitsLowerPeak() throws Exception {
        List<Example> data = StoriesLoraRuns.examples(StoriesLoraRuns.mobyDick(dir, "train.jsonl", 0, 8));
        Step kept = step(data, false);
        Step released = step(data, true);
        assertEquals(kept.grads().size(), released.grads().size());
        for (int i = 0; i < kept.grads().size(); i++) {
            assertArrayEquals(kept.grads().get(i), released.grads().get(i), 0f, "gradient " + i);
        }
        assertTrue(released.peak() < kept.peak(), "peak " + released.peak() + " with release, " + kept.peak() + " without");
        System.out.printf("stories260K LoRA micro-batch: tensor peak %d bytes kept, %d released (%.0f%% lower)%n",
                kept.peak(), released.peak(), 100.0 * (kept.peak() - released.peak()) / kept.peak());
    }
}
