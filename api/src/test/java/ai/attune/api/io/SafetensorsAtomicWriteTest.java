package ai.attune.api.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import ai.attune.api.tensor.DType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A failed write leaves no temporary file and does not touch an existing target. */
class SafetensorsAtomicWriteTest {

    @TempDir
    Path dir;

    private static SafetensorsWriter small() {
        return new SafetensorsWriter().add("x", DType.F32, new long[] {2}, Bytes.seg(Bytes.f32(1, 2)));
    }

    private List<String> listing(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void failedMoveLeavesNoTempFile() throws Exception {
        // A non-empty directory cannot be replaced by a file, even by root.
        Path target = dir.resolve("model.safetensors");
        Files.createDirectory(target);
        Files.writeString(target.resolve("keep"), "x");
        assertThrows(IOException.class, () -> small().write(target));
        assertEquals(List.of("model.safetensors"), listing(dir));
        assertEquals(List.of("keep"), listing(target));
    }

    @Test
    void failureWhileWritingKeepsExistingTarget() throws Exception {
        Path target = dir.resolve("model.safetensors");
        small().write(target);
        byte[] before = Files.readAllBytes(target);

        // The tensor's memory is freed before write(): copying it fails half way through the file.
        Arena arena = Arena.ofConfined();
        MemorySegment gone = arena.allocate(16);
        SafetensorsWriter w = small().add("y", DType.F32, new long[] {4}, gone);
        arena.close();
        assertThrows(IllegalStateException.class, () -> w.write(target));

        assertArrayEquals(before, Files.readAllBytes(target));
        assertEquals(List.of("model.safetensors"), listing(dir));
    }

    @Test
    void invalidTensorIsRefusedBeforeAnythingIsWritten() throws Exception {
        Path target = dir.resolve("model.safetensors");
        small().write(target);
        byte[] before = Files.readAllBytes(target);
        assertThrows(IllegalArgumentException.class,
                () -> small().add("bad", DType.F32, new long[] {3}, Bytes.seg(new byte[4])).write(target));
        assertArrayEquals(before, Files.readAllBytes(target));
        assertEquals(List.of("model.safetensors"), listing(dir));
    }

    @Test
    void missingDirectoryFails() {
        assertThrows(IOException.class, () -> small().write(dir.resolve("nope/model.safetensors")));
    }

    @Test
    void readOnlyDirectoryLeavesNothing() throws Exception {
        Path ro = Files.createDirectory(dir.resolve("ro"));
        Path target = ro.resolve("model.safetensors");
        small().write(target);
        byte[] before = Files.readAllBytes(target);
        Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("r-xr-xr-x"));
        try {
            // root ignores directory permissions; the move-failure test covers that case.
            assumeFalse(Files.isWritable(ro), "running with permission-bypassing privileges");
            assertThrows(IOException.class, () -> small().write(target));
            assertArrayEquals(before, Files.readAllBytes(target));
            assertEquals(List.of("model.safetensors"), listing(ro));
        } finally {
            Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    @Test
    void writtenFileGetsDefaultPermissionsNotTempFilePermissions() throws Exception {
        Path target = dir.resolve("model.safetensors");
        Path probe = Files.createFile(dir.resolve("probe"));
        small().write(target);
        assertEquals(Files.getPosixFilePermissions(probe), Files.getPosixFilePermissions(target));
    }
}
