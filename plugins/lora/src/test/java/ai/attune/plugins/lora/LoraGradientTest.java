package ai.attune.plugins.lora;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.autograd.GradMode;
import ai.attune.api.autograd.Ops;
import ai.attune.api.model.CausalLM;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static ai.attune.plugins.lora.Fixtures.IDS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * d loss / d lora_A and lora_B of stories260K loaded in f64, for loss = sum(logits * R) with a
 * fixed R, against central finite differences of the forward. With dropout, each forward restarts
 * the same micro-batch, so every evaluation draws the same masks.
 */
class LoraGradientTest {
    private final JvmBackend be = new JvmBackend();

    @ParameterizedTest(name = "lora_dropout={0}")
    @ValueSource(doubles = {0.0, 0.3})
    void gradientsMatchFiniteDifferencesAndTheBaseStaysFrozen(double dropout) throws Exception {
        try (Scope job = Scope.open("job")) {
            Module model = Fixtures.stories(be, DType.F64, job);
            MethodContext ctx = Fixtures.context(be, DType.F64, job, 3, null);
            LoraConfig c = new LoraConfig(4, 8, dropout, TargetModules.of("q_proj", "v_proj"), false, null, "none", null, null);
            List<Parameter> params = new LoraMethod().apply(model, c, ctx);
            Random rnd = new Random(9);
            for (Parameter p : params) {
                Fixtures.randomize(p, rnd, 0, 0.1); // B != 0, or d/dA would be zero
            }
            model.setTraining(true);
            CausalLM lm = (CausalLM) model;
            Tensor ids = Tensors.ofLongs(be, IDS, 1, IDS.length);
            Tensor weights = Tensors.of(be, DType.F64, new Random(12).doubles((long) IDS.length * 512, -1, 1).toArray(), 1, IDS.length, 512);

            DropoutSeeds seeds = ctx.dropout();
            try (Scope step = Scope.open("step")) {
                seeds.startMicroBatch(5, 0);
                Autograd.backward(Ops.sum(Ops.mul(lm.forward(ids, null, null), weights)));
            }

            // The frozen base: no gradient buffer was ever allocated for it.
            Set<Parameter> lora = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
            lora.addAll(params);
            int frozen = 0;
            for (Map.Entry<String, Parameter> e : model.namedParameters().entrySet()) {
                if (lora.contains(e.getValue())) {
                    assertTrue(e.getValue().trainable(), e.getKey());
                    assertNotNull(e.getValue().grad(), e.getKey() + " should have a gradient");
                } else {
                    assertTrue(!e.getValue().trainable(), e.getKey() + " should be frozen");
                    assertNull(e.getValue().grad(), e.getKey() + " is frozen but has a gradient");
                    frozen++;
                }
            }
            assertEquals(model.namedParameters().size() - 20, frozen);

            String[][] checks = {
                    {"model.layers.0.self_attn.q_proj.lora_A.weight", "5"},
                    {"model.layers.0.self_attn.q_proj.lora_A.weight", "200"},
                    {"model.layers.2.self_attn.v_proj.lora_A.weight", "77"},
                    {"model.layers.4.self_attn.q_proj.lora_B.weight", "3"},
                    {"model.layers.1.self_attn.v_proj.lora_B.weight", "101"},
                    {"model.layers.3.self_attn.q_proj.lora_B.weight", "250"},
            };
            double h = 1e-5;
            for (String[] check : checks) {
                Parameter p = model.namedParameters().get(check[0]);
                int index = Integer.parseInt(check[1]);
                double analytic = Tensors.toDoubles(p.grad())[index];
                double[] values = Tensors.toDoubles(p.value());
                double original = values[index];
                double[] loss = new double[2];
                try (GradMode.Region off = GradMode.noGrad()) {
                    for (int side = 0; side < 2; side++) {
                        values[index] = original + (side == 0 ? h : -h);
                        Fixtures.set(p, values);
                        try (Scope step = Scope.open("fd")) {
                            seeds.startMicroBatch(5, 0);
                            loss[side] = Tensors.item(Ops.sum(Ops.mul(lm.forward(ids, null, null), weights)));
                        }
                    }
                }
                values[index] = original;
                Fixtures.set(p, values);
                double numeric = (loss[0] - loss[1]) / (2 * h);
                double err = Math.abs(analytic - numeric) / Math.max(1.0, Math.abs(numeric));
                System.out.printf("lora grad (dropout %.1f) %s[%d]: analytic %.9f, numeric %.9f, rel err %.2g%n",
                        dropout, check[0], index, analytic, numeric, err);
                assertTrue(Math.abs(numeric) > 1e-3, "a vanishing gradient checks nothing: " + numeric);
                assertTrue(err <= 1e-6, check[0] + "[" + index + "]: analytic " + analytic + ", numeric " + numeric);
            }
        }
    }
}
