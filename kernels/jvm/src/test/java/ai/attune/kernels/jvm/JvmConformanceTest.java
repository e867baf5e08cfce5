package ai.attune.kernels.jvm;

import ai.attune.api.tensor.Backend;
import ai.attune.kernels.conformance.ConformanceSuite;

/** The jvm backend's SIMD kernels against its own scalar reference path, op by op. */
class JvmConformanceTest extends ConformanceSuite {
    private final JvmBackend simd = new JvmBackend(false);
    private final JvmBackend scalar = new JvmBackend(true);

    @Override
    protected Backend backend() {
        return simd;
    }

    @Override
    protected Backend reference() {
        return scalar;
    }
}
