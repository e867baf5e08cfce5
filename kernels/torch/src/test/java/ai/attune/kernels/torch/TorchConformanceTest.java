package ai.attune.kernels.torch;

import ai.attune.api.tensor.Backend;
import ai.attune.kernels.conformance.ConformanceSuite;
import ai.attune.kernels.jvm.JvmBackend;

/** Every op of the catalog on the torch backend against the jvm backend's scalar reference path. */
class TorchConformanceTest extends ConformanceSuite {
    private final TorchBackend torch = new TorchBackend(new JvmBackend());
    private final JvmBackend reference = new JvmBackend(true);

    @Override
    protected Backend backend() {
        return torch;
    }

    @Override
    protected Backend reference() {
        return reference;
    }
}
