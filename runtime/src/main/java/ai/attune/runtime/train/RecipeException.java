package ai.attune.runtime.train;

import ai.attune.api.io.OneLine;

/** A recipe that cannot run: one line naming the file, the key path and what was expected. */
public final class RecipeException extends IllegalArgumentException {
    public RecipeException(String message) {
        super(OneLine.of(message));
    }
}
