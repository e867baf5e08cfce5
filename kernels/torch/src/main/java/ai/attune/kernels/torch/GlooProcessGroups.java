package ai.attune.kernels.torch;

import ai.attune.api.dist.ProcessGroup;
import ai.attune.api.dist.ProcessGroupFactory;
import ai.attune.api.dist.Rendezvous;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Process groups on libtorch's c10d with the Gloo engine: collectives of CPU buffers over TCP, with
 * the rendezvous on c10d's TCPStore, as {@code torch.distributed.init_process_group("gloo")} makes
 * them. See {@link GlooProcessGroup} for how a group is built.
 *
 * <p>Which network interface Gloo uses: the interfaces named in {@code GLOO_SOCKET_IFNAME}
 * (comma-separated, as torch reads it) when that is set; else the local address this machine uses
 * to reach the master, so every rank of a multi-host group binds to an address its peers can route
 * to, and a single-host group to loopback.
 */
@Component(service = ProcessGroupFactory.class, property = ProcessGroupFactory.PROPERTY + "=gloo")
public final class GlooProcessGroups implements ProcessGroupFactory {
    /** torch's variable naming the interfaces Gloo binds to. */
    static final String SOCKET_IFNAME = "GLOO_SOCKET_IFNAME";

    private final List<String> interfaces;

    /** Loads libtorch (a factory whose natives fail to load still registers, saying why). */
    @Activate
    public GlooProcessGroups() {
        this(System.getenv());
    }

    GlooProcessGroups(Map<String, String> env) {
        String names = env.get(SOCKET_IFNAME);
        this.interfaces = names == null ? List.of() : Arrays.stream(names.split(",")).map(String::strip).filter(s -> !s.isEmpty()).toList();
        Libtorch.unavailableReason();
    }

    @Override
    public String name() {
        return "gloo";
    }

    @Override
    public String unavailableReason() {
        return Libtorch.unavailableReason();
    }

    @Override
    public ProcessGroup join(Rendezvous rendezvous) {
        String reason = unavailableReason();
        if (reason != null) {
            throw new IllegalStateException("gloo process groups are unavailable: " + reason);
        }
        return GlooProcessGroup.join(rendezvous, interfaces);
    }
}
