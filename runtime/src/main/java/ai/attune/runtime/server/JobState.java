package ai.attune.runtime.server;

import java.util.Locale;

/** The life of a job as the server reports it. */
public enum JobState {
    QUEUED, RUNNING, PAUSED, COMPLETED, FAILED, CANCELLED, INTERRUPTED;

    /** A job in a final state never runs again on its own (interrupted ones may be resumed by request). */
    public boolean isFinal() {
        return this == COMPLETED || this == FAILED || this == CANCELLED || this == INTERRUPTED;
    }

    /** Whether the server was working on it: such a job did not survive a restart. */
    public boolean isLive() {
        return this == QUEUED || this == RUNNING || this == PAUSED;
    }

    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static JobState ofWire(String s) {
        return valueOf(s.toUpperCase(Locale.ROOT));
    }
}
