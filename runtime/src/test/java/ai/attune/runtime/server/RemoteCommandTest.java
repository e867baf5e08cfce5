package ai.attune.runtime.server;

import ai.attune.runtime.cli.RemoteCommand;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code attune remote} against a server with a fake runner, with the launcher's one-line error convention. */
class RemoteCommandTest {
    @TempDir
    Path tmp;

    record Run(int code, String out, String err) {}

    static Run remote(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new RemoteCommand());
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        // as Main does: the first line of the message, exit 1
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println("attune: " + ex.getMessage().lines().findFirst().orElse(""));
            return 1;
        });
        int code = cli.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void submitListLogsAndAWrongToken() throws Exception {
        Path data = Files.createDirectories(tmp.resolve("data"));
        Files.writeString(data.resolve("d.txt"), "x\n");
        Path recipe = data.resolve("r.yaml");
        Files.writeString(recipe, "model: .\ndata: {format: text, path: d.txt}\ntrain: {max_steps: 3, optimizer: {name: adamw, lr: 0.1}}\noutput: x\n");
        Path tokenFile = tmp.resolve("token");
        Files.writeString(tokenFile, ServerFixture.TOKEN + "\n");
        try (ServerFixture s = new ServerFixture(tmp.resolve("runs"), data, new FakeRunner(10))) {
            String url = "http://127.0.0.1:" + s.server.port();
            Run sub = remote("--url", url, "--token-file", tokenFile.toString(), "submit", recipe.toString());
            assertEquals(0, sub.code(), sub.err());
            String id = sub.out().strip();
            Run logs = remote("--url", url, "--token", ServerFixture.TOKEN, "logs", "-f", id);
            assertEquals(0, logs.code(), logs.err());
            assertEquals(3, logs.out().lines().filter(l -> l.contains("\"type\":\"step\"")).count(), logs.out());
            Run list = remote("--url", url, "--token", ServerFixture.TOKEN, "list");
            assertTrue(list.out().startsWith(id + "  completed   step 3"), list.out());
            Run bad = remote("--url", url, "--token", "nope", "list");
            assertEquals(1, bad.code());
            assertEquals("attune: 401 Unauthorized: missing or wrong token", bad.err().strip());
            Run missing = remote("--url", url, "--token", ServerFixture.TOKEN, "status", "job-x");
            assertEquals("attune: 404 Not Found: no job 'job-x'", missing.err().strip());
        }
    }

    @Test
    void controlSendsOneCommandPerOptionAndABadOneIsOneLine() throws Exception {
        Path data = Files.createDirectories(tmp.resolve("data"));
        Files.writeString(data.resolve("d.txt"), "x\n");
        Path recipe = data.resolve("r.yaml");
        Files.writeString(recipe, "model: .\nmethod: lora\ndata: {format: text, path: d.txt}\ntrain: {max_steps: 1000, optimizer: {name: adamw, lr: 0.1}}\noutput: x\n");
        try (ServerFixture s = new ServerFixture(tmp.resolve("runs"), data, new FakeRunner(20))) {
            String url = "http://127.0.0.1:" + s.server.port();
            String id = remote("--url", url, "--token", ServerFixture.TOKEN, "submit", recipe.toString()).out().strip();
            s.await(id, "running");
            Run ok = remote("--url", url, "--token", ServerFixture.TOKEN, "control", id, "--scale-lr", "0.5", "--save-every", "10", "--checkpoint");
            assertEquals(0, ok.code(), ok.err());
            assertEquals(java.util.List.of("queued {\"command\":\"scale_lr\",\"factor\":0.5}", "queued {\"command\":\"cadence\",\"save_every\":10}",
                    "queued {\"command\":\"checkpoint\"}"), ok.out().lines().toList());
            Run zero = remote("--url", url, "--token", ServerFixture.TOKEN, "control", id, "--scale-lr", "0");
            assertEquals(1, zero.code());
            assertEquals("attune: 400 Bad Request: scale_lr: factor must be a finite number > 0, not 0.0", zero.err().strip());
            Run none = remote("--url", url, "--token", ServerFixture.TOKEN, "control", id);
            assertEquals(2, none.code());
            assertTrue(none.err().startsWith("control needs --scale-lr F"), none.err());
            assertEquals("paused", remote("--url", url, "--token", ServerFixture.TOKEN, "pause", id).out().strip());
            assertEquals(0, remote("--url", url, "--token", ServerFixture.TOKEN, "cancel", id).code());
            s.await(id, "cancelled");
        }
    }
}
