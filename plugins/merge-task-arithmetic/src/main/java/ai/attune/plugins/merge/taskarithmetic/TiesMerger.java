package ai.attune.plugins.merge.taskarithmetic;

import ai.attune.api.spi.Merger;
import org.osgi.service.component.annotations.Component;

/** mergekit's {@code ties} (Yadav et al. 2023): trim each task vector to its top-k magnitudes, elect the sign by weighted sum, average the agreeing entries. */
@Component(service = Merger.class, property = Merger.PROPERTY + "=ties")
public final class TiesMerger extends GeneralizedTaskArithmetic {
    public TiesMerger() {
        super(new MagnitudeSparsifier(false), Consensus.SUM, true, false, "https://arxiv.org/abs/2306.01708");
    }
}
