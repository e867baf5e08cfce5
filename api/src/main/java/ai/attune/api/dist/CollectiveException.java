package ai.attune.api.dist;

import ai.attune.api.io.OneLine;

/**
 * A collective or a rendezvous that failed: a peer that died or went silent past the group's
 * timeout, a rendezvous nobody answered, or a group that failed earlier. The message is one line
 * that names the operation, this rank and the reason the communication engine gave (for a dead
 * peer, its address).
 *
 * <p>A group that threw this is unusable on every rank: close it and end the process, so the
 * launcher can restart every rank from the last checkpoint.
 */
public final class CollectiveException extends RuntimeException {
    public CollectiveException(String message) {
        super(OneLine.of(message));
    }
}
