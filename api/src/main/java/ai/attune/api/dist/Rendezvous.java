package ai.attune.api.dist;

import ai.attune.api.io.OneLine;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * Where and as whom a process joins its group: torchrun's environment, as a value.
 *
 * @param masterAddr the host of rank 0, which serves the rendezvous ({@code MASTER_ADDR})
 * @param masterPort the rendezvous port on it ({@code MASTER_PORT})
 * @param rank       this process's rank in {@code [0, worldSize)} ({@code RANK})
 * @param worldSize  how many processes the group has ({@code WORLD_SIZE})
 * @param localRank  this process's index among the processes on its machine ({@code LOCAL_RANK}):
 *                   which device it takes
 * @param timeout    how long the rendezvous, and then each collective, may wait for a peer
 *                   before it fails
 */
public record Rendezvous(String masterAddr, int masterPort, int rank, int worldSize, int localRank, Duration timeout) {
    /** torch.distributed's default for Gloo groups is 30 minutes; a training step that waits a minute for a peer has lost it. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

    public Rendezvous {
        if (masterAddr == null || masterAddr.isBlank()) {
            throw new IllegalArgumentException("rendezvous: the master address is empty: name the host of rank 0");
        }
        if (masterPort < 1 || masterPort > 65535) {
            throw new IllegalArgumentException("rendezvous: master port " + masterPort + " is not in 1..65535");
        }
        if (worldSize < 1) {
            throw new IllegalArgumentException("rendezvous: world size " + worldSize + " must be at least 1");
        }
        if (rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("rendezvous: rank " + rank + " is not in 0.." + (worldSize - 1) + " for world size " + worldSize);
        }
        if (localRank < 0 || localRank >= worldSize) {
            throw new IllegalArgumentException("rendezvous: local rank " + localRank + " is not in 0.." + (worldSize - 1) + " for world size " + worldSize);
        }
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("rendezvous: timeout " + timeout + " must be positive");
        }
    }

    /** This rendezvous with another timeout. */
    public Rendezvous withTimeout(Duration timeout) {
        return new Rendezvous(masterAddr, masterPort, rank, worldSize, localRank, timeout);
    }

    /**
     * The rendezvous torchrun describes in {@code env}: {@code RANK}, {@code WORLD_SIZE},
     * {@code LOCAL_RANK}, {@code MASTER_ADDR} and {@code MASTER_PORT}, with the
     * {@linkplain #DEFAULT_TIMEOUT default timeout}.
     *
     * @return empty when neither {@code RANK} nor {@code WORLD_SIZE} is set: the process runs alone
     * @throws IllegalArgumentException naming the variable, when one is missing or malformed
     */
    public static Optional<Rendezvous> fromEnvironment(Map<String, String> env) {
        if (env.get("RANK") == null && env.get("WORLD_SIZE") == null) {
            return Optional.empty();
        }
        int worldSize = integer(env, "WORLD_SIZE");
        int rank = integer(env, "RANK");
        int localRank = integer(env, "LOCAL_RANK");
        String addr = required(env, "MASTER_ADDR").strip();
        int port = integer(env, "MASTER_PORT");
        try {
            return Optional.of(new Rendezvous(addr, port, rank, worldSize, localRank, DEFAULT_TIMEOUT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage() + " (from RANK=" + rank + " WORLD_SIZE=" + worldSize + " LOCAL_RANK=" + localRank
                    + " MASTER_ADDR=" + addr + " MASTER_PORT=" + port + ")");
        }
    }

    private static String required(Map<String, String> env, String name) {
        String v = env.get(name);
        if (v == null || v.isBlank()) {
            throw new IllegalArgumentException("environment variable " + name + " is not set, but RANK or WORLD_SIZE is: a distributed"
                    + " launch sets all of RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT (as torchrun does)");
        }
        return v;
    }

    private static int integer(Map<String, String> env, String name) {
        String v = required(env, name).strip();
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("environment variable " + name + "='" + OneLine.of(v) + "' is not an integer");
        }
    }
}
