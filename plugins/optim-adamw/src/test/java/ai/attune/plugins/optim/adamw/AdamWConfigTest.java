package ai.attune.plugins.optim.adamw;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The config binds torch's keyword names, and keys left out keep torch's defaults. */
class AdamWConfigTest {
    private final ObjectMapper json = new ObjectMapper();

    @Test
    void defaultsAreTorchs() {
        AdamWConfig d = new AdamWOptimizer().defaultConfig();
        assertEquals(List.of(0.9, 0.999), d.betas());
        assertEquals(1e-8, d.eps());
        assertEquals(0.01, d.weightDecay());
        assertEquals(false, d.amsgrad());
        assertEquals(false, d.maximize());
    }

    @Test
    void emptyBlockIsTheDefaults() throws Exception {
        assertEquals(AdamWConfig.DEFAULTS, json.readValue("{}", AdamWConfig.class));
    }

    @Test
    void bindsTorchKeyNamesAndKeepsDefaultsForTheRest() throws Exception {
        AdamWConfig c = json.readValue("{\"betas\": [0.8, 0.95], \"weight_decay\": 0.0, \"amsgrad\": true}", AdamWConfig.class);
        assertEquals(new AdamWConfig(List.of(0.8, 0.95), 1e-8, 0.0, true, false), c);
        assertEquals(0.8, c.beta1());
        assertEquals(0.95, c.beta2());
    }

    @Test
    void roundTripsThroughJson() throws Exception {
        AdamWConfig c = new AdamWConfig(List.of(0.85, 0.99), 1e-6, 0.1, true, true);
        String text = json.writeValueAsString(c);
        assertTrue(text.contains("\"weight_decay\":0.1"), text);
        assertEquals(c, json.readValue(text, AdamWConfig.class));
    }

    @Test
    void misspelledKeysAreRejected() {
        assertThrows(UnrecognizedPropertyException.class, () -> json.readValue("{\"weight_decy\": 0.1}", AdamWConfig.class));
    }

    @Test
    void badValuesNameTheKey() {
        ValueInstantiationException e = assertThrows(ValueInstantiationException.class,
                () -> json.readValue("{\"betas\": [0.9, 1.0]}", AdamWConfig.class));
        assertTrue(e.getCause().getMessage().contains("betas[1]"), e.getCause().getMessage());
        IllegalArgumentException wd = assertThrows(IllegalArgumentException.class,
                () -> new AdamWConfig(List.of(0.9, 0.999), 1e-8, -0.1, false, false));
        assertTrue(wd.getMessage().contains("weight_decay"), wd.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new AdamWConfig(List.of(0.9), 1e-8, 0, false, false));
        assertThrows(IllegalArgumentException.class, () -> new AdamWConfig(List.of(0.9, 0.999), -1, 0, false, false));
    }
}
