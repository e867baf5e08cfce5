package com.example.attune.lion;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The config binds lion-pytorch's keyword names, and keys left out keep its defaults. */
class LionConfigTest {
    private final ObjectMapper json = new ObjectMapper();

    @Test
    void defaultsAreLionPytorchs() {
        LionConfig d = new LionOptimizer().defaultConfig();
        assertEquals(List.of(0.9, 0.99), d.betas());
        assertEquals(0.0, d.weightDecay());
        assertEquals(d, LionConfig.DEFAULTS);
    }

    @Test
    void emptyBlockIsTheDefaults() throws Exception {
        assertEquals(LionConfig.DEFAULTS, json.readValue("{}", LionConfig.class));
    }

    @Test
    void bindsUpstreamKeyNamesAndKeepsDefaultsForTheRest() throws Exception {
        assertEquals(new LionConfig(List.of(0.9, 0.99), 0.1), json.readValue("{\"weight_decay\": 0.1}", LionConfig.class));
        LionConfig c = json.readValue("{\"betas\": [0.95, 0.98]}", LionConfig.class);
        assertEquals(0.95, c.beta1());
        assertEquals(0.98, c.beta2());
        assertEquals(0.0, c.weightDecay());
    }

    @Test
    void roundTripsThroughJson() throws Exception {
        LionConfig c = new LionConfig(List.of(0.95, 0.98), 0.3);
        String text = json.writeValueAsString(c);
        assertTrue(text.contains("\"weight_decay\":0.3"), text);
        assertEquals(c, json.readValue(text, LionConfig.class));
    }

    @Test
    void unknownKeysAreRejected() {
        assertThrows(UnrecognizedPropertyException.class, () -> json.readValue("{\"weight_decy\": 0.1}", LionConfig.class));
        // AdamW's eps has no meaning for a sign update: a recipe that carries it over is told so.
        assertThrows(UnrecognizedPropertyException.class, () -> json.readValue("{\"eps\": 1e-8}", LionConfig.class));
    }

    @Test
    void badValuesNameTheKey() {
        ValueInstantiationException e = assertThrows(ValueInstantiationException.class,
                () -> json.readValue("{\"betas\": [0.9, 1.5]}", LionConfig.class));
        assertTrue(e.getCause().getMessage().contains("betas[1]"), e.getCause().getMessage());
        IllegalArgumentException wd = assertThrows(IllegalArgumentException.class, () -> new LionConfig(List.of(0.9, 0.99), -0.1));
        assertTrue(wd.getMessage().contains("weight_decay"), wd.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new LionConfig(List.of(0.9), 0));
    }
}
