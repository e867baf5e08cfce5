package ai.attune.itests;

import org.junit.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

/** The distribution's launcher, run as a new user runs it. */
public class LauncherIT {
    record Result(int code, String out, String err) {}

    static Result attune(String... args) throws IOException, InterruptedException {
        Path launcher = Path.of(System.getProperty("attune.distribution"), "bin", "attune");
        List<String> cmd = new java.util.ArrayList<>(List.of(launcher.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        // CI may leave a pre-25 java on PATH; the launcher must find a JDK 25 on its own or via JAVA_HOME.
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Process p = pb.start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("attune " + String.join(" ", args) + " did not finish");
        }
        return new Result(p.exitValue(),
                new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
                new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    @Test
    public void pluginsListsTheSamplePluginWithItsBundleVersion() throws Exception {
        Result r = attune("plugins");
        assertEquals(r.err, 0, r.code);
        assertTrue(r.out, r.out.lines().anyMatch(l -> l.matches("optimizer\\s+sgd\\s+ai\\.attune\\.optim\\.sgd\\s+0\\.1\\.0\\..*")));
        assertTrue(r.out, r.out.lines().anyMatch(l -> l.matches("backend\\s+jvm\\s+ai\\.attune\\.kernels\\.jvm\\s+0\\.1\\.0\\..*")));
    }

    @Test
    public void unknownCommandExitsTwoWithoutStackTrace() throws Exception {
        Result r = attune("frobnicate");
        assertEquals(2, r.code);
        assertTrue(r.err, r.err.contains("attune: Unmatched argument at index 0: 'frobnicate'"));
        assertFalse(r.err, r.err.contains("\tat "));
    }
}
