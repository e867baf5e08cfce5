package ai.attune.api.data;

import ai.attune.api.io.OneLine;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Training data a user must fix: one line, {@code "train.jsonl:17: <problem>"}, saying where and
 * what is wrong, so the command line can print it as it is.
 */
public final class DataException extends IOException {
    /** A problem with one row: {@code file:line: problem}. */
    public DataException(Path file, int line, String problem) {
        super(OneLine.of(fileName(file) + ":" + line + ": " + problem));
    }

    /** A problem with the whole file or the setup around it (no line to name). */
    public DataException(String message) {
        super(OneLine.of(message));
    }

    /** The file as the user knows it: its name, which is what error messages elsewhere in attune print. */
    public static String fileName(Path file) {
        Path n = file.getFileName();
        return n == null ? file.toString() : n.toString();
    }
}
