package ai.attune.runtime.cli;

import ai.attune.api.spi.Kind;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.runtime.host.AttuneRuntime;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.host.RuntimeLayout;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/** {@code attune bench}: kernel throughput of a backend, with the machine's measured peak beside it. */
@Command(name = "bench", description = "Measure a kernel's throughput on a backend and print its ratio to the measured FMA peak.")
public final class BenchCommand implements Runnable {
    /** The benchmarked ops. */
    enum Op { matmul }

    /** Element types a benchmark can run in. */
    enum Dtype { f32, bf16, f16 }

    @Spec
    CommandSpec spec;

    @Option(names = "--op", defaultValue = "matmul", description = "Kernel to measure: ${COMPLETION-CANDIDATES} (default ${DEFAULT-VALUE}).")
    Op op;

    @Option(names = "--m", defaultValue = "1024", description = "Rows of A and C (default ${DEFAULT-VALUE}).")
    int m;

    @Option(names = "--n", defaultValue = "1024", description = "Columns of B and C (default ${DEFAULT-VALUE}).")
    int n;

    @Option(names = "--k", defaultValue = "1024", description = "Inner dimension (default ${DEFAULT-VALUE}).")
    int k;

    @Option(names = "--dtype", defaultValue = "f32", description = "Operand dtype: ${COMPLETION-CANDIDATES} (default ${DEFAULT-VALUE}).")
    Dtype dtype;

    @Option(names = "--backend", description = "Backend name (default: the highest-ranked).")
    String backendName;

    @Option(names = "--repeats", defaultValue = "10", description = "Timed repeats after warm-up; the median is reported (default ${DEFAULT-VALUE}).")
    int repeats;

    @Override
    public void run() {
        if (m <= 0 || n <= 0 || k <= 0 || repeats <= 0) {
            throw new ParameterException(spec.commandLine(), "--m, --n, --k and --repeats must be positive");
        }
        PrintWriter out = spec.commandLine().getOut();
        try (AttuneRuntime rt = AttuneRuntime.boot(RuntimeLayout.fromSystem())) {
            Backend be = backend(rt.plugins());
            DType t = DType.valueOf(dtype.name().toUpperCase());
            double median = matmulSeconds(be, t);
            double gflops = 2.0 * m * n * k / median / 1e9;
            out.printf("matmul %dx%dx%d %s on %s: %.1f GFLOP/s (median of %d, %.3f ms)%n", m, n, k, dtype, be.name(), gflops, repeats, median * 1e3);
            out.flush();
            double peak = be.measurePeakGflops();
            if (Double.isNaN(peak)) {
                out.printf("peak: not measurable on %s%n", be.name());
            } else {
                out.printf("f32 FMA peak of %s (%d threads): %.1f GFLOP/s%n", be.name() + " on " + be.device(), Runtime.getRuntime().availableProcessors(), peak);
                out.printf("ratio to peak: %.0f%% (%.1f / %.1f GFLOP/s)%n", 100 * gflops / peak, gflops, peak);
            }
            out.flush();
        }
    }

    private Backend backend(PluginCatalog catalog) {
        List<PluginCatalog.Entry> backends = catalog.list(Kind.BACKEND);
        if (backendName != null) {
            return catalog.find(Kind.BACKEND, backendName, Backend.class).orElseThrow(() -> new ParameterException(spec.commandLine(),
                    "no backend named '" + backendName + "'; registered: " + backends.stream().map(PluginCatalog.Entry::name).toList()));
        }
        return backends.stream().map(PluginCatalog.Entry::reference).sorted(java.util.Comparator.reverseOrder()).findFirst()
                .map(r -> (Backend) catalog.service(r))
                .orElseThrow(() -> new IllegalStateException("no backend is registered"));
    }

    private double matmulSeconds(Backend be, DType t) {
        try (Scope s = Scope.open("bench")) {
            Random r = new Random(0);
            Tensor a = Tensors.of(be, t, r.doubles((long) m * k, -1, 1).toArray(), m, k);
            Tensor b = Tensors.of(be, t, r.doubles((long) k * n, -1, 1).toArray(), k, n);
            Tensor c = be.zeros(t, new int[] {m, n}, s);
            for (int i = 0; i < 3; i++) {
                be.matmul(a, false, b, false, c);
            }
            double[] times = new double[repeats];
            for (int i = 0; i < repeats; i++) {
                long t0 = System.nanoTime();
                be.matmul(a, false, b, false, c);
                times[i] = (System.nanoTime() - t0) / 1e9;
            }
            Arrays.sort(times);
            return repeats % 2 == 1 ? times[repeats / 2] : (times[repeats / 2 - 1] + times[repeats / 2]) / 2;
        }
    }
}
