package ai.attune.api.dist;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** torchrun's environment read into a {@link Rendezvous}, and the errors a launch with a bad one gets. */
class RendezvousTest {
    private static Map<String, String> torchrun() {
        Map<String, String> env = new HashMap<>();
        env.put("RANK", "3");
        env.put("WORLD_SIZE", "4");
        env.put("LOCAL_RANK", "1");
        env.put("MASTER_ADDR", "10.0.0.7");
        env.put("MASTER_PORT", "29500");
        env.put("PATH", "/usr/bin");
        return env;
    }

    @Test
    void readsTorchrunsVariables() {
        Rendezvous r = Rendezvous.fromEnvironment(torchrun()).orElseThrow();
        assertEquals(new Rendezvous("10.0.0.7", 29500, 3, 4, 1, Duration.ofSeconds(60)), r);
        assertEquals(Duration.ofSeconds(5), r.withTimeout(Duration.ofSeconds(5)).timeout());
    }

    @Test
    void noRankAndNoWorldSizeMeansAlone() {
        assertEquals(Optional.empty(), Rendezvous.fromEnvironment(Map.of("PATH", "/usr/bin", "MASTER_PORT", "29500")));
    }

    @Test
    void aMissingVariableIsNamed() {
        for (String name : new String[] {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"}) {
            Map<String, String> env = torchrun();
            env.remove(name);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Rendezvous.fromEnvironment(env));
            assertTrue(e.getMessage().startsWith("environment variable " + name + " is not set"), e.getMessage());
        }
    }

    @Test
    void aMalformedVariableIsNamedWithItsValue() {
        Map<String, String> env = torchrun();
        env.put("MASTER_PORT", "29500x");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Rendezvous.fromEnvironment(env));
        assertEquals("environment variable MASTER_PORT='29500x' is not an integer", e.getMessage());
    }

    @Test
    void inconsistentValuesAreRefusedWithTheirSource() {
        Map<String, String> env = torchrun();
        env.put("RANK", "4");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Rendezvous.fromEnvironment(env));
        assertTrue(e.getMessage().startsWith("rendezvous: rank 4 is not in 0..3 for world size 4 (from RANK=4 WORLD_SIZE=4"), e.getMessage());
        env.put("RANK", "0");
        env.put("MASTER_PORT", "70000");
        e = assertThrows(IllegalArgumentException.class, () -> Rendezvous.fromEnvironment(env));
        assertTrue(e.getMessage().startsWith("rendezvous: master port 70000 is not in 1..65535"), e.getMessage());
    }

    @Test
    void aTimeoutMustBePositive() {
        assertThrows(IllegalArgumentException.class, () -> new Rendezvous("127.0.0.1", 29500, 0, 1, 0, Duration.ZERO));
    }
}
