/**
 * Data-parallel collectives: the {@link ai.attune.api.dist.ProcessGroup} a training process joins
 * with its peers, and the {@link ai.attune.api.dist.ProcessGroupFactory} service that makes one
 * from a {@link ai.attune.api.dist.Rendezvous} (torchrun's {@code RANK}, {@code WORLD_SIZE},
 * {@code MASTER_ADDR}, {@code MASTER_PORT}). The collectives run on an existing distributed engine
 * (libtorch's c10d: Gloo over TCP on CPUs), never on networking of Attune's own. Every failure of
 * a collective is a one-line {@link ai.attune.api.dist.CollectiveException}.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.1.0")
package ai.attune.api.dist;
