package ai.attune.kernels.jvm;

import ai.attune.api.tensor.Backend;
import ai.attune.kernels.conformance.GradientSuite;

/** Finite-difference gradient checks of every op on the jvm backend. */
class JvmGradientTest extends GradientSuite {
    private final JvmBackend backend = new JvmBackend();

    @Override
    protected Backend backend() {
        return backend;
    }
}
