package ai.attune.runtime.train;

/** A recipe that cannot run: one line naming the file, the key path and what was expected. */
public final class RecipeException extends IllegalArgumentException {
    public RecipeException(String message) {
        super(message);
    }
}
