package ai.attune.runtime.server;

import ai.attune.api.io.OneLine;

/** A refused request: the HTTP status it maps to (also the event-bus failure code) and a one-line reason. */
public final class ApiException extends RuntimeException {
    private final int status;

    public ApiException(int status, String message) {
        super(OneLine.of(message));
        this.status = status;
    }

    public int status() {
        return status;
    }
}
