package ai.attune.runtime.cli;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Exit codes and messages of the command line for bad usage: one line, usage, exit 2, no stack trace. */
class MainTest {
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private PrintStream oldErr;
    private PrintStream oldOut;

    @BeforeEach
    void capture() {
        oldErr = System.err;
        oldOut = System.out;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restore() {
        System.setErr(oldErr);
        System.setOut(oldOut);
    }

    @Test
    void unknownCommandIsUsageError() {
        assertEquals(2, Main.run("frobnicate"));
        String e = err.toString(StandardCharsets.UTF_8);
        assertTrue(e.startsWith("attune: Unmatched argument at index 0: 'frobnicate'"), e);
        assertTrue(e.contains("Usage: attune"), e);
        assertFalse(e.contains("\tat "), "no stack trace: " + e);
    }

    @Test
    void unknownOptionIsUsageError() {
        assertEquals(2, Main.run("plugins", "--nope"));
        String e = err.toString(StandardCharsets.UTF_8);
        assertTrue(e.startsWith("attune: Unknown option: '--nope'"), e);
        assertFalse(e.contains("\tat "), e);
    }

    @Test
    void versionNamesTheRelease() {
        assertEquals(0, Main.run("--version"));
        assertTrue(out.toString(StandardCharsets.UTF_8).matches("(?s)attune \\d+\\.\\d+\\.\\d+.*"), out.toString(StandardCharsets.UTF_8));
    }

    @Test
    void everyCommandAndSubcommandPrintsItsUsageOnHelp() {
        List<List<String>> paths = new ArrayList<>();
        collect(new CommandLine(new AttuneCommand()), new ArrayList<>(), paths);
        assertTrue(paths.size() >= 14, "attune and its subcommands: " + paths);
        for (List<String> path : paths) {
            for (String flag : List.of("--help", "-h")) {
                out.reset();
                List<String> args = new ArrayList<>(path.subList(1, path.size()));
                args.add(flag);
                assertEquals(0, Main.run(args.toArray(String[]::new)), args + ": " + err.toString(StandardCharsets.UTF_8));
                String usage = out.toString(StandardCharsets.UTF_8);
                assertTrue(usage.contains("Usage: " + String.join(" ", path) + " "), args + " prints its own usage: " + usage);
                assertTrue(usage.contains("-h, --help"), usage);
            }
        }
        assertEquals("", err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void subcommandsAnswerVersionToo() {
        assertEquals(0, Main.run("train", "--version"));
        assertTrue(out.toString(StandardCharsets.UTF_8).startsWith("attune "), out.toString(StandardCharsets.UTF_8));
    }

    private static void collect(CommandLine cmd, List<String> prefix, List<List<String>> paths) {
        List<String> path = new ArrayList<>(prefix);
        path.add(cmd.getCommandName());
        paths.add(path);
        cmd.getSubcommands().values().stream().distinct().forEach(sub -> collect(sub, path, paths));
    }

    @Test
    void failuresAreOneLineWithExitOne() {
        String old = System.getProperty("attune.home");
        System.setProperty("attune.home", "/nonexistent/attune-home");
        try {
            assertEquals(1, Main.run("plugins"));
        } finally {
            if (old == null) {
                System.clearProperty("attune.home");
            } else {
                System.setProperty("attune.home", old);
            }
        }
        String e = err.toString(StandardCharsets.UTF_8);
        assertEquals(1, e.lines().count(), e);
        assertTrue(e.startsWith("attune: plugin directory /nonexistent/attune-home/plugins does not exist"), e);
    }
}
