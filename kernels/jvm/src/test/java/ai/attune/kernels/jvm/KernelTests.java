package ai.attune.kernels.jvm;

import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;

import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/** What the tests of the pool-parallel kernels share. */
final class KernelTests {
    /**
     * Three pool threads plus the caller: more workers than this machine's cores, so the order in
     * which parallel units run varies, and a kernel whose bits depended on it would show. Daemon
     * threads, so no test class has to shut the shared pool down.
     */
    static final ExecutorService POOL = Executors.newFixedThreadPool(3, r -> {
        Thread t = new Thread(r, "kernel-test");
        t.setDaemon(true);
        return t;
    });
    /** Only allocates: the kernels under test are called directly. */
    static final JvmBackend BE = new JvmBackend(true);

    private KernelTests() {}

    /** An f32 tensor of uniform values in [-scale, scale). */
    static Tensor uniform(Random r, double scale, int... shape) {
        return uniform(BE, DType.F32, r, scale, shape);
    }

    /** A tensor of {@code dtype} on {@code backend} of uniform values in [-scale, scale). */
    static Tensor uniform(Backend backend, DType dtype, Random r, double scale, int... shape) {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = (r.nextDouble() * 2 - 1) * scale;
        }
        return Tensors.of(backend, dtype, v, shape);
    }

    static float[] floats(Tensor t) {
        return Tensors.toFloats(t);
    }
}
