package ai.attune.kernels.torch;

import ai.attune.api.tensor.BinaryOp;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A fresh JVM's first use of the torch backend, run by {@link NativeCacheTest} in its own process:
 * loads libtorch from the cache its {@code org.bytedeco.javacpp.cachedir} names, runs one op and
 * prints the result and every libtorch_cpu/libc10 the process has mapped. Exit 3 when the backend
 * reports itself unavailable (the reason is printed in one line).
 */
public final class NativeLoadProbe {
    private NativeLoadProbe() {}

    public static void main(String[] args) throws Exception {
        TorchBackend torch = new TorchBackend(new JvmBackend());
        if (torch.unavailableReason() != null) {
            System.out.println("unavailable: " + torch.unavailableReason());
            System.exit(3);
        }
        try (Scope s = Scope.open("probe")) {
            Tensor out = torch.zeros(DType.F32, new int[] {3}, s);
            torch.binary(BinaryOp.ADD, Tensors.of(torch, new float[] {1, 2, 3}, 3), Tensors.of(torch, new float[] {0.5f, 0.25f, 0.125f}, 3), out);
            float[] r = Tensors.toFloats(out);
            System.out.println("sum: " + r[0] + " " + r[1] + " " + r[2]);
        }
        // Which copies of the libraries the dynamic linker mapped: one each, from the cache.
        try (var lines = Files.lines(Path.of("/proc/self/maps"))) {
            lines.map(l -> l.substring(l.lastIndexOf(' ') + 1)).filter(p -> p.endsWith("/libtorch_cpu.so") || p.contains("/libc10.so"))
                    .distinct().forEach(p -> System.out.println("mapped: " + p));
        }
    }
}
