package ai.attune.api.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Replace-or-nothing file writes: readers see either the old file or the complete new one, never a
 * torn checkpoint, even if the JVM dies mid-write.
 */
final class AtomicFiles {

    /** Writes the content of the file being built. */
    @FunctionalInterface
    interface Body {
        void writeTo(FileChannel channel) throws IOException;
    }

    private AtomicFiles() {
    }

    /**
     * Writes {@code body} to a temporary file next to {@code target} (same directory, so the rename
     * stays on one file system and can be atomic), fsyncs it, and renames it over {@code target}.
     * On any failure the temporary file is deleted and {@code target} is left as it was.
     */
    static void write(Path target, Body body) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path dir = absolute.getParent();
        Path tmp = createTemp(dir, absolute.getFileName().toString());
        try {
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                body.writeTo(channel);
                channel.force(true);
            }
            Files.move(tmp, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (Throwable t) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException | RuntimeException cleanup) {
                t.addSuppressed(cleanup);
            }
            throw t;
        }
        syncDirectory(dir);
    }

    /**
     * A fresh {@code .<name>.tmp-<random>} file. Not {@link Files#createTempFile}: that creates
     * owner-only (0600) files, and the rename would hand the final checkpoint those permissions.
     */
    private static Path createTemp(Path dir, String name) throws IOException {
        for (int attempt = 0; ; attempt++) {
            String suffix = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
            Path tmp = dir.resolve("." + name + ".tmp-" + suffix);
            try {
                Files.newByteChannel(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
                return tmp;
            } catch (FileAlreadyExistsException e) {
                if (attempt >= 10) {
                    throw e;
                }
            }
        }
    }

    /** Makes the rename itself durable; best effort, since not every platform can open a directory. */
    private static void syncDirectory(Path dir) {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException | RuntimeException ignored) {
            // The data is already fsynced; only the rename's durability is at stake.
        }
    }
}
