package ai.attune.kernels.torch;

import ai.attune.api.tensor.Backend;
import ai.attune.kernels.conformance.GradientSuite;
import ai.attune.kernels.jvm.JvmBackend;

/** Finite-difference gradient checks in f64 of every op on the torch backend. */
class TorchGradientTest extends GradientSuite {
    private final TorchBackend backend = new TorchBackend(new JvmBackend());

    @Override
    protected Backend backend() {
        return backend;
    }
}
