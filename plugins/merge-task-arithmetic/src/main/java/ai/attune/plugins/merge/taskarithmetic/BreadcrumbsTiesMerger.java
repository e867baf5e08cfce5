package ai.attune.plugins.merge.taskarithmetic;

import ai.attune.api.spi.Merger;
import org.osgi.service.component.annotations.Component;

/** mergekit's {@code breadcrumbs_ties}: breadcrumbs' sparsification, then TIES' sign election. */
@Component(service = Merger.class, property = Merger.PROPERTY + "=breadcrumbs_ties")
public final class BreadcrumbsTiesMerger extends GeneralizedTaskArithmetic {
    public BreadcrumbsTiesMerger() {
        super(new MagnitudeSparsifier(true), Consensus.SUM, false, false, "https://arxiv.org/abs/2312.06795");
    }
}
