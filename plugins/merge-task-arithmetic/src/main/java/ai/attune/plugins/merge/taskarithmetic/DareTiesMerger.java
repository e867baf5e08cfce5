package ai.attune.plugins.merge.taskarithmetic;

import ai.attune.api.spi.Merger;
import org.osgi.service.component.annotations.Component;

/** mergekit's {@code dare_ties}: DARE's random drop and rescale, then TIES' sign election. */
@Component(service = Merger.class, property = Merger.PROPERTY + "=dare_ties")
public final class DareTiesMerger extends GeneralizedTaskArithmetic {
    public DareTiesMerger() {
        super(new RandomSparsifier(), Consensus.SUM, false, true, "https://arxiv.org/abs/2311.03099");
    }
}
