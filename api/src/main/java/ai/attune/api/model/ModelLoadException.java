package ai.attune.api.model;

import ai.attune.api.io.OneLine;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A checkpoint cannot be loaded: a missing or contradictory config key, an unsupported model type,
 * a missing weight or one of the wrong shape. The message is one line naming the file and the key
 * or tensor, and what was expected.
 */
public final class ModelLoadException extends IOException {
    public ModelLoadException(Path file, String reason) {
        super(OneLine.of(file.getFileName() + ": " + reason));
    }

    public ModelLoadException(String message) {
        super(OneLine.of(message));
    }
}
