package ai.attune.plugins.merge.taskarithmetic;

import ai.attune.api.spi.Merger;
import org.osgi.service.component.annotations.Component;

/** mergekit's {@code dare_linear} (Yu et al. 2024): drop task-vector entries at random, rescale the rest, add them up. */
@Component(service = Merger.class, property = Merger.PROPERTY + "=dare_linear")
public final class DareLinearMerger extends GeneralizedTaskArithmetic {
    public DareLinearMerger() {
        super(new RandomSparsifier(), null, false, true, "https://arxiv.org/abs/2311.03099");
    }
}
