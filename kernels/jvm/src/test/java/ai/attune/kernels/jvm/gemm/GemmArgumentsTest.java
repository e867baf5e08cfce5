package ai.attune.kernels.jvm.gemm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertThrows;

/** Bad calls fail up front, before any of C is written. */
class GemmArgumentsTest {

    private static ExecutorService pool;
    private static Gemm gemm;

    @BeforeAll
    static void start() {
        pool = Executors.newFixedThreadPool(2);
        gemm = new Gemm(pool, 2, false);
    }

    @AfterAll
    static void stop() {
        pool.shutdownNow();
    }

    @Test
    void rejectsBadArguments() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(4 * 100);
            ElementType f = ElementType.F32;
            assertThrows(IllegalArgumentException.class, () -> new Gemm(pool, 0));
            assertThrows(IllegalArgumentException.class,
                    () -> gemm.gemm(false, false, -1, 2, 2, 1f, s, 0, 2, f, s, 0, 2, f, 0f, s, 0, 2));
            // lda smaller than the row width
            assertThrows(IllegalArgumentException.class,
                    () -> gemm.gemm(false, false, 3, 3, 3, 1f, s, 0, 2, f, s, 0, 3, f, 0f, s, 0, 3));
            // C does not fit: 10 x 10 needs 100 floats from offset 1
            assertThrows(IndexOutOfBoundsException.class,
                    () -> gemm.gemm(false, false, 10, 10, 1, 1f, s, 0, 1, f, s, 0, 10, f, 0f, s, 1, 10));
            // B as bf16 fits 200 elements, as f32 only 100
            assertThrows(IndexOutOfBoundsException.class,
                    () -> gemm.gemm(false, false, 1, 150, 1, 1f, s, 0, 1, f, s, 0, 150, f, 0f, s, 0, 150));
            gemm.gemm(false, false, 1, 150, 1, 1f, s, 0, 1, f, s, 0, 150, ElementType.BF16, 0f,
                    arena.allocate(4 * 150), 0, 150);
            assertThrows(IllegalArgumentException.class,
                    () -> gemm.gemm(false, false, 2, 2, 2, 1f, s, -1, 2, f, s, 0, 2, f, 0f, s, 0, 2));
            // The last batch member must fit too.
            assertThrows(IndexOutOfBoundsException.class, () -> gemm.gemmBatched(3, false, false, 4, 4, 4, 1f,
                    s, 0, 4, 50, f, s, 0, 4, 0, f, 0f, s, 0, 4, 16));
            // Members writing the same C would race.
            assertThrows(IllegalArgumentException.class, () -> gemm.gemmBatched(2, false, false, 2, 2, 2, 1f,
                    s, 0, 2, 4, f, s, 0, 2, 4, f, 0f, s, 0, 2, 0));
        }
    }
}
