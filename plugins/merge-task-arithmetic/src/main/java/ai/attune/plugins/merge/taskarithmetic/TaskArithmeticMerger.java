package ai.attune.plugins.merge.taskarithmetic;

import ai.attune.api.spi.Merger;
import org.osgi.service.component.annotations.Component;

/** mergekit's {@code task_arithmetic} (Ilharco et al. 2023): the base plus the weighted sum of task vectors. */
@Component(service = Merger.class, property = Merger.PROPERTY + "=task_arithmetic")
public final class TaskArithmeticMerger extends GeneralizedTaskArithmetic {
    public TaskArithmeticMerger() {
        super(null, null, false, false, "https://arxiv.org/abs/2212.04089");
    }
}
