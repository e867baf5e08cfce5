package ai.attune.kernels.torch;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The first use of libtorch on a machine that never ran it: each case starts JVMs of its own
 * ({@link NativeLoadProbe}) on a cache directory in a state a user can leave it in, and asks
 * for one op's result, no JVM crash, a single libtorch_cpu and libc10 mapped from that cache, and
 * nothing left for JavaCPP to extract (its debug log names every extraction).
 */
class NativeCacheTest {
    @TempDir
    Path tmp;

    @Test
    void anEmptyCacheIsFilledAndLoads() throws Exception {
        Path cache = tmp.resolve("cache");
        Run run = start(cache, "first").finish();
        run.assertLoadedFrom(cache);
        assertTrue(Files.isRegularFile(torchCpu(cache)), "libtorch_cpu.so is extracted into " + cache);
        try (Stream<Path> all = Files.walk(cache)) {
            assertEquals(List.of(), all.filter(p -> p.getFileName().toString().contains(".part-")).toList(), "no temporary file is left");
        }
    }

    @Test
    void twoJvmsStartTogetherOnOneEmptyCache() throws Exception {
        Path cache = tmp.resolve("cache");
        Run a = start(cache, "a");
        Run b = start(cache, "b");
        a.finish().assertLoadedFrom(cache);
        b.finish().assertLoadedFrom(cache);
    }

    @Test
    void aTruncatedLibraryIsRepaired() throws Exception {
        Path cache = tmp.resolve("cache");
        start(cache, "fill").finish().assertLoadedFrom(cache);
        Path lib = torchCpu(cache);
        long size = Files.size(lib);
        try (FileChannel c = FileChannel.open(lib, StandardOpenOption.WRITE)) {
            c.truncate(size / 3); // as a process killed while extracting leaves it
        }
        Files.writeString(lib.resolveSibling(".libc10.so.part-1"), "debris of a killed writer");
        start(cache, "repair").finish().assertLoadedFrom(cache);
        assertEquals(size, Files.size(lib), "the truncated library is extracted again");
        assertFalse(Files.exists(lib.resolveSibling(".libc10.so.part-1")), "a killed writer's temporary file is removed");
    }

    @Test
    void aCacheThatCannotBeCreatedIsOneLineNotACrash() throws Exception {
        Path file = Files.writeString(tmp.resolve("plain-file"), "x");
        Path cache = file.resolve("cache"); // under a regular file: no user, root included, can create it
        Run run = start(cache, "unwritable").finish();
        assertEquals(3, run.exit, run.output);
        String line = run.output.lines().filter(l -> l.startsWith("unavailable: ")).findFirst().orElseThrow(() -> new AssertionError(run.output));
        assertTrue(line.contains("cannot create the natives cache " + cache), line);
        run.assertNoCrash();
    }

    private static Path torchCpu(Path cache) throws IOException {
        try (Stream<Path> all = Files.walk(cache)) {
            return all.filter(p -> p.getFileName().toString().equals("libtorch_cpu.so")).findFirst().orElseThrow();
        }
    }

    private Run start(Path cache, String name) throws IOException {
        Path out = tmp.resolve(name + ".out");
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        ProcessBuilder pb = new ProcessBuilder(java.toString(), "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-XX:ErrorFile=" + tmp.resolve(name + "-hs_err_pid%p.log"), "-Dorg.bytedeco.javacpp.cachedir=" + cache,
                "-Dorg.bytedeco.javacpp.logger.debug=true", "-cp", System.getProperty("java.class.path"), NativeLoadProbe.class.getName());
        pb.directory(tmp.toFile()).redirectErrorStream(true).redirectOutput(out.toFile());
        return new Run(pb.start(), out, name);
    }

    private final class Run {
        final Process process;
        final Path out;
        final String name;
        int exit;
        String output;

        Run(Process process, Path out, String name) {
            this.process = process;
            this.out = out;
            this.name = name;
        }

        Run finish() throws Exception {
            if (!process.waitFor(5, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                throw new AssertionError(name + ": the probe did not finish in 5 minutes");
            }
            exit = process.exitValue();
            output = Files.readString(out);
            return this;
        }

        void assertLoadedFrom(Path cache) throws IOException {
            assertNoCrash();
            assertEquals(0, exit, output);
            assertTrue(output.contains("sum: 1.5 2.25 3.125"), output);
            List<String> mapped = new ArrayList<>(output.lines().filter(l -> l.startsWith("mapped: ")).map(l -> l.substring(8)).toList());
            assertEquals(2, mapped.size(), "one libtorch_cpu.so and one libc10.so: " + mapped);
            String root = cache.toRealPath().toString();
            assertTrue(mapped.stream().allMatch(p -> p.startsWith(root)), "both from " + root + ": " + mapped);
            assertFalse(output.contains("Debug: Extracting"), "JavaCPP found every library in place:\n" + output);
        }

        void assertNoCrash() throws IOException {
            assertFalse(output.contains("A fatal error has been detected"), output);
            try (Stream<Path> files = Files.list(tmp)) {
                assertEquals(List.of(), files.filter(p -> p.getFileName().toString().contains("hs_err")).toList());
            }
        }
    }
}
