package ai.attune.plugins.optim.adafactor;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The config binds transformers' keyword names, keys left out keep its defaults, and contradictions are refused by key. */
class AdafactorConfigTest {
    private final ObjectMapper json = new ObjectMapper();
    private static final List<Double> EPS = List.of(1e-30, 1e-3);

    @Test
    void defaultsAreTransformers() {
        AdafactorConfig d = new AdafactorOptimizer().defaultConfig();
        assertEquals(EPS, d.eps());
        assertEquals(1e-30, d.eps1());
        assertEquals(1e-3, d.eps2());
        assertEquals(1.0, d.clipThreshold());
        assertEquals(-0.8, d.decayRate());
        assertNull(d.beta1());
        assertEquals(0.0, d.weightDecay());
        assertTrue(d.scaleParameter());
        assertTrue(d.relativeStep());
        assertFalse(d.warmupInit());
    }

    @Test
    void emptyBlockIsTheDefaults() throws Exception {
        assertEquals(AdafactorConfig.DEFAULTS, json.readValue("{}", AdafactorConfig.class));
    }

    @Test
    void bindsTransformersKeyNamesAndKeepsDefaultsForTheRest() throws Exception {
        AdafactorConfig c = json.readValue("{\"beta1\": 0.9, \"relative_step\": false, \"scale_parameter\": false, \"clip_threshold\": 0.5}",
                AdafactorConfig.class);
        assertEquals(new AdafactorConfig(EPS, 0.5, -0.8, 0.9, 0.0, false, false, false), c);
    }

    @Test
    void roundTripsThroughJsonWithANullBeta1() throws Exception {
        for (AdafactorConfig c : List.of(AdafactorConfig.DEFAULTS, new AdafactorConfig(List.of(1e-20, 1e-2), 2, -0.5, 0.8, 0.1, false, true, true))) {
            String text = json.writeValueAsString(c);
            assertTrue(text.contains("\"clip_threshold\":") && text.contains("\"warmup_init\":"), text);
            assertEquals(c, json.readValue(text, AdafactorConfig.class));
        }
        assertTrue(json.writeValueAsString(AdafactorConfig.DEFAULTS).contains("\"beta1\":null"));
    }

    @Test
    void theStepSizeIsItsOwnUnderRelativeStepOnly() {
        AdafactorOptimizer opt = new AdafactorOptimizer();
        assertTrue(opt.ownsLearningRate(AdafactorConfig.DEFAULTS));
        assertFalse(opt.ownsLearningRate(new AdafactorConfig(EPS, 1, -0.8, null, 0, false, false, false)));
    }

    @Test
    void misspelledKeysAreRejected() {
        assertThrows(UnrecognizedPropertyException.class, () -> json.readValue("{\"relative_steps\": false}", AdafactorConfig.class));
    }

    @Test
    void warmupInitWithoutRelativeStepIsRefusedAsTransformersDoes() {
        ValueInstantiationException e = assertThrows(ValueInstantiationException.class,
                () -> json.readValue("{\"relative_step\": false, \"warmup_init\": true}", AdafactorConfig.class));
        assertEquals("warmup_init: true needs relative_step: true (it warms up the relative step size)", e.getCause().getMessage());
    }

    @Test
    void badValuesNameTheKey() {
        assertEquals("eps[1] must be a finite number >= 0, got -1.0", refused("{\"eps\": [1e-30, -1]}"));
        assertTrue(refused("{\"eps\": [1e-30]}").startsWith("eps must be two numbers"));
        assertEquals("clip_threshold must be a finite number > 0, got 0.0", refused("{\"clip_threshold\": 0}"));
        assertTrue(refused("{\"decay_rate\": 0.5}").startsWith("decay_rate must be a finite number <= 0"));
        assertTrue(refused("{\"beta1\": 1.0}").startsWith("beta1 must be in [0, 1)"));
        assertTrue(refused("{\"weight_decay\": -0.1}").startsWith("weight_decay must be"));
    }

    private String refused(String block) {
        return assertThrows(ValueInstantiationException.class, () -> json.readValue(block, AdafactorConfig.class)).getCause().getMessage();
    }
}
