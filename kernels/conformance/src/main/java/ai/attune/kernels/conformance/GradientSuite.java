package ai.attune.kernels.conformance;

import ai.attune.api.tensor.Backend;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.stream.Stream;

/**
 * Finite-difference gradient checks in f64 of every op in {@link OpCatalog}, on the backend a
 * subclass provides. Join it by extending with {@code backend()}.
 */
public abstract class GradientSuite {
    protected abstract Backend backend();

    @TestFactory
    Stream<DynamicTest> gradientsMatchFiniteDifferences() {
        Backend be = backend();
        return OpCatalog.cases().stream().map(c -> DynamicTest.dynamicTest(c.toString(),
                () -> GradCheck.check(be, c, 42, 1e-6, 1e-7, 1e-6)));
    }
}
