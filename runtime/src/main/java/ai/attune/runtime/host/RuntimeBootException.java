package ai.attune.runtime.host;

/** The runtime could not start; the message says why in one line. */
public final class RuntimeBootException extends RuntimeException {
    public RuntimeBootException(String message, Throwable cause) {
        super(message, cause);
    }
}
