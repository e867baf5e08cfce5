package ai.attune.kernels.torch;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * libtorch's natives load from the Maven jars alone (the build has no network), and kernels work
 * on the Java-owned memory in place.
 */
class TorchNativesTest {
    @Test
    void nativesLoadFromTheClasspathJars() throws java.io.IOException {
        TorchBackend backend = new TorchBackend(new JvmBackend()); // loads libtorch and sets the thread count
        assertNull(backend.unavailableReason());
        String config = torch.show_config().getString();
        assertTrue(config.contains("TORCH_VERSION=2.13.0"), config);
        assertTrue(config.contains("USE_MKLDNN=ON"), "oneDNN carries the bf16 GEMM: " + config);
        assertEquals(Runtime.getRuntime().availableProcessors(), torch.get_num_threads());
        assertTrue(Loader.getCacheDir().isDirectory(), "natives are extracted to " + Loader.getCacheDir());
    }

    @Test
    void kernelsWriteIntoJavaOwnedMemory() {
        TorchBackend be = new TorchBackend(new JvmBackend());
        try (Scope s = Scope.open("natives")) {
            Tensor x = Tensors.of(be, new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
            Tensor y = be.zeros(DType.F32, new int[] {2, 3}, s);
            be.scalar(ai.attune.api.tensor.ScalarOp.MUL, x, 2.0, y);
            MemorySegment seg = ((TorchStorage) y.storage()).segment();
            assertEquals(0, seg.address() % 64, "zeros aligns to a cache line");
            assertArrayEquals(new float[] {2, 4, 6, 8, 10, 12}, seg.asSlice(0, 24).toArray(ValueLayout.JAVA_FLOAT));
        }
    }
}
