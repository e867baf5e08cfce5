package ai.attune.runtime.dist;

import ai.attune.api.dist.ProcessGroup;
import ai.attune.api.dist.ProcessGroupFactory;
import ai.attune.api.dist.Rendezvous;
import ai.attune.api.spi.Kind;
import ai.attune.runtime.host.PluginCatalog;

/** The installed c10d Gloo engine that data-parallel ranks join, or one line saying why there is none. */
public final class GlooEngine {
    private GlooEngine() {}

    /**
     * The Gloo process-group factory of the torch bundle, checked to run here.
     *
     * @param who how the refusal names what needs it, e.g. "data-parallel training"
     */
    public static ProcessGroupFactory of(PluginCatalog plugins, String who) {
        ProcessGroupFactory gloo = plugins.find(Kind.DIST, "gloo", ProcessGroupFactory.class).orElseThrow(() -> new IllegalStateException(
                who + " needs the gloo process groups of the torch bundle; installed: "
                        + plugins.list(Kind.DIST).stream().map(PluginCatalog.Entry::name).toList()));
        if (gloo.unavailableReason() != null) {
            throw new IllegalStateException(who + " runs on libtorch's c10d, which cannot run here: " + gloo.unavailableReason());
        }
        return gloo;
    }

    /** Joins the group {@code r} describes. */
    public static ProcessGroup join(PluginCatalog plugins, Rendezvous r, String who) {
        return of(plugins, who).join(r);
    }
}
