package ai.attune.runtime.cli;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * attune plan's bad input caught before the runtime boots: one line naming what is wrong, a non-zero
 * exit, no stack trace. (A recipe's wrong keys: RecipePlanTest; from the launcher: PlanLauncherIT.)
 */
class PlanCommandTest {
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private PrintStream oldErr;

    @BeforeEach
    void capture() {
        oldErr = System.err;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restore() {
        System.setErr(oldErr);
    }

    private String err() {
        return err.toString(StandardCharsets.UTF_8);
    }

    @Test
    void aMissingRecipe() {
        assertEquals(1, Main.run("plan", "no-such-recipe.yaml"));
        assertEquals("attune: no-such-recipe.yaml: recipe not found\n", err());
    }

    @Test
    void anUnparsableDeviceMemory() {
        assertEquals(2, Main.run("plan", "../examples/lora-moby-dick.yaml", "--device-memory", "24 gigs"));
        String first = err().lines().findFirst().orElseThrow();
        assertEquals("attune: Invalid value for option '--device-memory': '24 gigs' is not a memory size: write a number and a unit, "
                + "e.g. 24GB (10^9 bytes) or 24GiB (2^30 bytes)", first);
        assertFalse(err().contains("\tat "), err());
    }

    @Test
    void anUnknownPreset() {
        assertEquals(2, Main.run("plan", "../examples/lora-moby-dick.yaml", "--preset", "llama-7000b"));
        assertTrue(err().startsWith("attune: unknown --preset 'llama-7000b'; known: [llama-100m]\n"), err());
    }
}
