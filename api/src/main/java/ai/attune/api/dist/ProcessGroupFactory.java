package ai.attune.api.dist;

/**
 * Makes {@link ProcessGroup}s on one communication engine. Registered as an OSGi service named by
 * the {@value #PROPERTY} property: {@code gloo} (c10d's Gloo over TCP, CPU buffers) and, where a
 * build has CUDA devices, {@code nccl}. The runtime picks one by that property.
 */
public interface ProcessGroupFactory {
    String PROPERTY = "attune.dist.backend";

    /** The engine's name, the value of {@value #PROPERTY}. */
    String name();

    /**
     * Why this engine cannot make groups on this machine (its natives did not load, it needs
     * devices the machine lacks), in one line a user can act on; null when it can.
     */
    default String unavailableReason() {
        return null;
    }

    /**
     * Joins the group: a collective call that returns once all {@link Rendezvous#worldSize()}
     * processes have joined at the same master address and port. Rank 0 hosts the rendezvous.
     *
     * @throws CollectiveException when the group is not complete within the rendezvous timeout
     *                             (a rank that never came, a master nobody listens at), or the
     *                             master's port is taken
     * @throws IllegalStateException when the engine is {@linkplain #unavailableReason() unavailable}
     */
    ProcessGroup join(Rendezvous rendezvous);
}
