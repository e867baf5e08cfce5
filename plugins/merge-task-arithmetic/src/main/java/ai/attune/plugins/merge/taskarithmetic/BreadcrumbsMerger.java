package ai.attune.plugins.merge.taskarithmetic;

import ai.attune.api.spi.Merger;
import org.osgi.service.component.annotations.Component;

/** mergekit's {@code breadcrumbs} (Davari and Belilovsky 2023): drop the largest outliers and the smallest entries of each task vector. */
@Component(service = Merger.class, property = Merger.PROPERTY + "=breadcrumbs")
public final class BreadcrumbsMerger extends GeneralizedTaskArithmetic {
    public BreadcrumbsMerger() {
        super(new MagnitudeSparsifier(true), null, false, false, "https://arxiv.org/abs/2312.06795");
    }
}
