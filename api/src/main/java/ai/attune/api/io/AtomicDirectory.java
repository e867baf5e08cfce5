package ai.attune.api.io;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * Writes a directory (a model, an adapter, a checkpoint) under a temporary name beside its target
 * and renames it into place when complete, so the target either does not exist or is whole; a
 * failure removes the temporary directory.
 */
public final class AtomicDirectory {
    /** Fills the temporary directory it is given. */
    @FunctionalInterface
    public interface Body {
        void write(Path tmp) throws IOException;
    }

    private AtomicDirectory() {}

    /** Writes {@code target}, which must not exist yet. */
    public static void create(Path target, Body body) throws IOException {
        if (Files.exists(target)) {
            throw new FileAlreadyExistsException(target + ": already exists; choose a new output directory");
        }
        write(target, body);
    }

    /** Writes {@code target}, replacing a directory of the same name if there is one. */
    public static void replace(Path target, Body body) throws IOException {
        write(target, body);
    }

    private static void write(Path target, Body body) throws IOException {
        Path parent = target.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = parent.resolve("." + target.getFileName() + ".tmp-" + UUID.randomUUID().toString().substring(0, 8));
        Files.createDirectory(tmp);
        try {
            body.write(tmp);
            if (Files.exists(target)) {
                deleteTree(target);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            deleteTree(tmp);
            throw e;
        }
    }

    /** Removes a directory tree, best effort. */
    public static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // what is left is named as temporary
        }
    }
}
