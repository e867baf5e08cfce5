package ai.attune.runtime.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Recipe and artifact paths stay inside their roots: ../, absolute paths and symlinks. */
class PathGuardTest {
    @TempDir
    Path tmp;

    @Test
    void artifactPathsCannotLeaveTheRunDirectory() throws Exception {
        Path run = Files.createDirectories(tmp.resolve("run/final"));
        Files.writeString(run.resolve("a.bin"), "x");
        Files.createSymbolicLink(run.resolve("link"), Path.of("/etc"));
        assertEquals(run.resolve("a.bin").toRealPath(), PathGuard.under(tmp.resolve("run"), "final/a.bin"));
        for (String bad : List.of("../x", "final/../../x", "/etc/passwd", "final/link/passwd", "", ".")) {
            ApiException e = assertThrows(ApiException.class, () -> PathGuard.under(tmp.resolve("run"), bad), bad);
            assertEquals(400, e.status());
        }
    }

    @Test
    void recipePathsAreConfinedAndRewrittenAndOutputIsForced() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("root"));
        Files.createSymbolicLink(root.resolve("out"), tmp);
        PathGuard g = new PathGuard(root, List.of(root));
        ObjectMapper json = new ObjectMapper();
        ObjectNode ok = (ObjectNode) json.readTree("{\"model\": \"m\", \"data\": {\"path\": \"sub/../d.txt\"}, \"output\": \"/etc\"}");
        g.confine(ok, tmp.resolve("runs/job-1"));
        assertEquals(root.resolve("d.txt").toString(), ok.path("data").path("path").asText());
        assertEquals(tmp.resolve("runs/job-1").toString(), ok.path("output").asText());
        for (String[] bad : new String[][] {{"data.path", "{\"data\": {\"path\": \"../../etc/passwd\"}}"},
                {"data.eval_path", "{\"data\": {\"eval_path\": \"/etc/passwd\"}}"},
                {"data.general_eval_path", "{\"data\": {\"general_eval_path\": \"out/secret\"}}"},
                {"model", "{\"model\": \"" + tmp + "\"}"}}) {
            ApiException e = assertThrows(ApiException.class, () -> g.confine((ObjectNode) json.readTree(bad[1]), tmp.resolve("r")));
            assertEquals(400, e.status());
            assertEquals(true, e.getMessage().startsWith("recipe key '" + bad[0] + "'"), e.getMessage());
        }
    }
}
