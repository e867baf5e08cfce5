package ai.attune.plugins.optim.adamw8bit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The config binds bitsandbytes' keyword names, and keys left out keep AdamW8bit's defaults. */
class AdamW8bitConfigTest {
    private final ObjectMapper json = new ObjectMapper();

    @Test
    void defaultsAreBitsandbytesAdamW8bits() {
        // bitsandbytes/optim/adamw.py, class AdamW8bit: betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
        // amsgrad=False, min_8bit_size=4096
        AdamW8bitConfig d = new AdamW8bitOptimizer().defaultConfig();
        assertEquals(List.of(0.9, 0.999), d.betas());
        assertEquals(1e-8, d.eps());
        assertEquals(0.01, d.weightDecay());
        assertEquals(false, d.amsgrad());
        assertEquals(4096, d.min8bitSize());
    }

    @Test
    void emptyBlockIsTheDefaults() throws Exception {
        assertEquals(AdamW8bitConfig.DEFAULTS, json.readValue("{}", AdamW8bitConfig.class));
    }

    @Test
    void bindsBitsandbytesKeyNamesAndKeepsDefaultsForTheRest() throws Exception {
        AdamW8bitConfig c = json.readValue("{\"betas\": [0.8, 0.95], \"weight_decay\": 0.0, \"min_8bit_size\": 16384}", AdamW8bitConfig.class);
        assertEquals(new AdamW8bitConfig(List.of(0.8, 0.95), 1e-8, 0.0, false, 16384), c);
        assertEquals(0.8, c.beta1());
        assertEquals(0.95, c.beta2());
    }

    @Test
    void roundTripsThroughJson() throws Exception {
        AdamW8bitConfig c = new AdamW8bitConfig(List.of(0.85, 0.99), 1e-6, 0.1, false, 0);
        String text = json.writeValueAsString(c);
        assertTrue(text.contains("\"min_8bit_size\":0"), text);
        assertTrue(text.contains("\"weight_decay\":0.1"), text);
        assertEquals(c, json.readValue(text, AdamW8bitConfig.class));
    }

    @Test
    void misspelledKeysAreRejected() {
        UnrecognizedPropertyException e = assertThrows(UnrecognizedPropertyException.class,
                () -> json.readValue("{\"min_8bit_sise\": 1}", AdamW8bitConfig.class));
        assertEquals("min_8bit_sise", e.getPropertyName());
    }

    @Test
    void badValuesNameTheKey() {
        ValueInstantiationException e = assertThrows(ValueInstantiationException.class,
                () -> json.readValue("{\"betas\": [0.9, 1.0]}", AdamW8bitConfig.class));
        assertTrue(e.getCause().getMessage().contains("betas[1]"), e.getCause().getMessage());
        e = assertThrows(ValueInstantiationException.class, () -> json.readValue("{\"amsgrad\": true}", AdamW8bitConfig.class));
        assertEquals("amsgrad must be false: bitsandbytes' 8-bit AdamW has no AMSGrad; use optimizer adamw for it", e.getCause().getMessage());
        IllegalArgumentException m = assertThrows(IllegalArgumentException.class,
                () -> new AdamW8bitConfig(List.of(0.9, 0.999), 1e-8, 0.01, false, -1));
        assertTrue(m.getMessage().startsWith("min_8bit_size"), m.getMessage());
        IllegalArgumentException wd = assertThrows(IllegalArgumentException.class,
                () -> new AdamW8bitConfig(List.of(0.9, 0.999), 1e-8, -0.1, false, 4096));
        assertTrue(wd.getMessage().startsWith("weight_decay"), wd.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new AdamW8bitConfig(List.of(0.9), 1e-8, 0, false, 4096));
        assertThrows(IllegalArgumentException.class, () -> new AdamW8bitConfig(List.of(0.9, 0.999), -1, 0, false, 4096));
    }
}
