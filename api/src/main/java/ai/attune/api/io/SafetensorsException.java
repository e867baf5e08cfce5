package ai.attune.api.io;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A safetensors file, shard index or model directory that breaks the format's rules.
 *
 * <p>The message is always one line, {@code <file name>: <reason>}, so that it can go straight into
 * a log or a CLI error without a stack trace. It is a checked {@link IOException} because a bad file
 * is an input problem the caller must expect, like a missing one; plain I/O failures (no such file,
 * permission denied) are not wrapped and keep their own {@code IOException} types.
 */
public final class SafetensorsException extends IOException {

    private static final long serialVersionUID = 1L;

    private final transient Path file;

    public SafetensorsException(Path file, String reason) {
        super(Names.oneLine(displayName(file) + ": " + reason));
        this.file = file;
    }

    public SafetensorsException(Path file, String reason, Throwable cause) {
        super(Names.oneLine(displayName(file) + ": " + reason), cause);
        this.file = file;
    }

    /** The file (or directory) the problem was found in. */
    public Path file() {
        return file;
    }

    /** The last path element: enough to identify a shard, short enough for one log line. */
    static String displayName(Path file) {
        if (file == null) {
            return "<unnamed>";
        }
        Path name = file.getFileName();
        return name == null ? file.toString() : name.toString();
    }
}
