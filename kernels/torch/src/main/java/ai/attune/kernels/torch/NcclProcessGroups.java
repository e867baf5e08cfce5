package ai.attune.kernels.torch;

import ai.attune.api.dist.ProcessGroup;
import ai.attune.api.dist.ProcessGroupFactory;
import ai.attune.api.dist.Rendezvous;
import org.bytedeco.pytorch.global.torch;
import org.osgi.service.component.annotations.Component;

/**
 * The place of c10d's NCCL engine, for groups of CUDA devices. This build's libtorch has no CUDA,
 * so the factory registers to say so: a run that asks for {@code nccl} is told why it cannot have
 * it, instead of finding no engine of that name. A CUDA build makes its groups here, with
 * {@code org.bytedeco.pytorch.nccl.ProcessGroupNCCL} over the same TCPStore rendezvous as
 * {@link GlooProcessGroup}, one device per {@link Rendezvous#localRank()}.
 */
@Component(service = ProcessGroupFactory.class, property = ProcessGroupFactory.PROPERTY + "=nccl")
public final class NcclProcessGroups implements ProcessGroupFactory {
    @Override
    public String name() {
        return "nccl";
    }

    @Override
    public String unavailableReason() {
        String reason = Libtorch.unavailableReason();
        if (reason != null) {
            return reason;
        }
        if (!torch.cuda_is_available()) {
            return "NCCL needs CUDA devices; this build has none: use attune.dist.backend=gloo";
        }
        return "NCCL process groups are not implemented yet: use attune.dist.backend=gloo";
    }

    @Override
    public ProcessGroup join(Rendezvous rendezvous) {
        throw new IllegalStateException("nccl process groups are unavailable: " + unavailableReason());
    }
}
