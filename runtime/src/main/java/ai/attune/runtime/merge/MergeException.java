package ai.attune.runtime.merge;

/** A merge config or input that cannot be merged; the message is one line naming the file, key, tensor or model. */
public final class MergeException extends RuntimeException {
    public MergeException(String message) {
        super(ai.attune.api.io.OneLine.of(message)); // it quotes what the user wrote, which may hold line breaks
    }
}
