package ai.attune.api.spi;

import ai.attune.api.model.ModelFamily;
import ai.attune.api.tensor.Backend;

/**
 * The kinds of technique a plugin can provide: one SPI each, with the service property that
 * names an implementation. Techniques themselves are found only in the service registry.
 */
public enum Kind {
    METHOD(Method.class, Method.PROPERTY),
    CLASSIFIER(ClassifierMethod.class, ClassifierMethod.PROPERTY),
    QUANTIZER(Quantizer.class, Quantizer.PROPERTY),
    OPTIMIZER(Optimizer.class, Optimizer.PROPERTY),
    MEMORY(MemoryStrategy.class, MemoryStrategy.PROPERTY),
    MERGE(Merger.class, Merger.PROPERTY),
    MODEL(ModelFamily.class, ModelFamily.PROPERTY),
    DATA_FORMAT(DataFormat.class, DataFormat.PROPERTY),
    BACKEND(Backend.class, Backend.PROPERTY),
    /** Collective communication for data-parallel training: c10d's Gloo, NCCL where there are CUDA devices. */
    DIST(ai.attune.api.dist.ProcessGroupFactory.class, ai.attune.api.dist.ProcessGroupFactory.PROPERTY);

    private final Class<?> spi;
    private final String property;

    Kind(Class<?> spi, String property) {
        this.spi = spi;
        this.property = property;
    }

    public Class<?> spi() {
        return spi;
    }

    /** The service property whose value names the implementation. */
    public String property() {
        return property;
    }

    /** Lower-case label for listings: {@code optimizer}, {@code data-format}. */
    public String label() {
        return name().toLowerCase().replace('_', '-');
    }
}
