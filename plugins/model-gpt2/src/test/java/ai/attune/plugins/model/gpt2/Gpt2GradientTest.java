package ai.attune.plugins.model.gpt2;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.autograd.GradMode;
import ai.attune.api.autograd.Ops;
import ai.attune.api.io.SafetensorsFile;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.nn.Parameter;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Gradients through the whole model (Conv1D, the q/k/v split, attention, the position slice, the
 * tied head) against central finite differences of its forward, in f64.
 */
class Gpt2GradientTest {
    private final JvmBackend backend = new JvmBackend();

    @ParameterizedTest(name = "{0}[{1}]")
    @CsvSource({
            "transformer.wte.weight, 276",           // row 17: an input token and a row of the tied head
            "transformer.wpe.weight, 35",            // position 2
            "transformer.h.0.attn.c_attn.weight, 405", // a k column
            "transformer.h.1.attn.c_attn.bias, 37",   // a v column
            "transformer.h.0.attn.c_proj.weight, 100",
            "transformer.h.1.ln_1.bias, 5",
            "transformer.h.1.mlp.c_fc.weight, 300",
            "transformer.ln_f.weight, 9",
    })
    void gradientMatchesFiniteDifferences(String name, int index, @TempDir Path dir) throws IOException {
        TinyGpt2.standard(11).write(dir, true);
        long[] ids = Gpt2LMHeadModelTest.IDS;
        try (Scope scope = Scope.open(); SafetensorsFile weights = SafetensorsFile.open(dir.resolve("model.safetensors"))) {
            Gpt2LMHeadModel model = (Gpt2LMHeadModel) new Gpt2Family().load(ModelConfig.read(dir), weights, backend, DType.F64, scope);
            Tensor idTensor = Tensors.ofLongs(backend, ids, 1, ids.length);
            double[] r = new Random(12).doubles((long) ids.length * TinyGpt2.VOCAB, -1, 1).toArray();
            Tensor weightsOfLogits = Tensors.of(backend, DType.F64, r, 1, ids.length, TinyGpt2.VOCAB);
            Parameter p = model.namedParameters().get(name);

            Autograd.backward(Ops.sum(Ops.mul(model.forward(idTensor, null, null), weightsOfLogits)));
            double analytic = Tensors.toDoubles(p.grad())[index];

            double h = 1e-5;
            double[] values = Tensors.toDoubles(p.value());
            double original = values[index];
            double[] loss = new double[2];
            try (GradMode.Region off = GradMode.noGrad()) {
                for (int side = 0; side < 2; side++) {
                    values[index] = original + (side == 0 ? h : -h);
                    backend.copy(Tensors.of(backend, DType.F64, values, p.value().shape()), p.value());
                    loss[side] = Tensors.item(Ops.sum(Ops.mul(model.forward(idTensor, null, null), weightsOfLogits)));
                }
            }
            double numeric = (loss[0] - loss[1]) / (2 * h);
            double err = Math.abs(analytic - numeric) / Math.max(1.0, Math.abs(numeric));
            System.out.printf("gpt2 grad %s[%d]: analytic %.9f, numeric %.9f%n", name, index, analytic, numeric);
            assertTrue(err <= 1e-6, name + "[" + index + "]: analytic " + analytic + ", numeric " + numeric);
        }
    }
}
