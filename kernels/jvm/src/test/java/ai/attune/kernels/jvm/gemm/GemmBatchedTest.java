package ai.attune.kernels.jvm.gemm;

import java.lang.foreign.Arena;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static ai.attune.kernels.jvm.gemm.Fixture.Matrix;

/**
 * The strided-batch entry point, checked member by member against the oracle, on both the SIMD
 * and the scalar path.
 */
class GemmBatchedTest {

    private static ExecutorService pool;

    @BeforeAll
    static void start() {
        pool = Executors.newFixedThreadPool(2);
    }

    @AfterAll
    static void stop() {
        pool.shutdownNow();
    }

    @Test
    void smallMembersSimd() {
        Gemm gemm = new Gemm(pool, 2, false);
        for (int t = 0; t < 4; t++) {
            batched(gemm, 5, 7, 13, 9, (t & 1) != 0, (t & 2) != 0, 1f, 0f, false, ElementType.F32);
            batched(gemm, 3, 20, 35, 17, (t & 1) != 0, (t & 2) != 0, 0.5f, 2f, false, ElementType.BF16);
        }
    }

    @Test
    void membersLargeEnoughToSplit() {
        // Three members on two threads: each member is cut so the tasks divide evenly.
        Gemm gemm = new Gemm(pool, 2, false);
        batched(gemm, 3, 200, 90, 500, false, true, 1f, 1f, false, ElementType.F32);
        batched(gemm, 1, 200, 64, 700, true, false, 1f, 0.5f, false, ElementType.F16);
    }

    @Test
    void manySmallMembersShareTheThreads() {
        // Too small to split, but together worth two threads: members are the tasks.
        Gemm gemm = new Gemm(pool, 2, false);
        batched(gemm, 8, 100, 100, 110, false, false, 1f, 0.5f, false, ElementType.F32);
    }

    @Test
    void sharedBAcrossTheBatch() {
        Gemm gemm = new Gemm(pool, 2, false);
        batched(gemm, 4, 11, 33, 21, false, false, 1f, 0f, true, ElementType.F32);
        batched(gemm, 4, 11, 33, 21, true, true, -1f, 1f, true, ElementType.F16);
    }

    @Test
    void emptyBatchAndEmptyMembers() {
        Gemm gemm = new Gemm(pool, 2, false);
        batched(gemm, 0, 4, 4, 4, false, false, 1f, 0f, false, ElementType.F32);
        batched(gemm, 3, 4, 4, 0, false, false, 1f, 0f, false, ElementType.F32);
    }

    @Test
    void scalarPath() {
        Gemm gemm = new Gemm(pool, 2, true);
        for (int t = 0; t < 4; t++) {
            batched(gemm, 3, 9, 14, 6, (t & 1) != 0, (t & 2) != 0, 1.5f, 0.5f, false, ElementType.F32);
        }
        batched(gemm, 2, 5, 6, 7, false, true, 1f, 0f, true, ElementType.BF16);
    }

    @Test
    void callFromInsideTheSamePoolDoesNotDeadlock() throws Exception {
        // A one-thread pool whose only thread makes the call: the helper task it submits can never
        // start before the call returns, so the calling thread must do all the work itself.
        ExecutorService single = Executors.newFixedThreadPool(1);
        try {
            Gemm gemm = new Gemm(single, 2, false);
            Future<?> f = single.submit(() -> batched(gemm, 2, 150, 150, 100, false, false, 1f, 0f, false,
                    ElementType.F32));
            f.get(60, TimeUnit.SECONDS); // a guard against hanging the build, not a timing assertion
        } finally {
            single.shutdownNow();
        }
    }

    /** Runs a batch laid out with gaps between members and checks each member against the oracle. */
    private static void batched(Gemm gemm, int batch, int m, int n, int k, boolean transA, boolean transB,
                                float alpha, float beta, boolean shareB, ElementType type) {
        SplittableRandom rnd = new SplittableRandom(batch * 1000L + m + n + k);
        try (Arena arena = Arena.ofShared()) {
            Matrix[] a = Fixture.batch(arena, rnd, batch, m, k, type, transA, 3, 1, 5, false);
            Matrix[] b = Fixture.batch(arena, rnd, shareB ? 1 : batch, k, n, type, transB, 0, 2, 3, false);
            // With beta == 0, C starts as NaN garbage that must be overwritten, never read.
            Matrix[] c = Fixture.batch(arena, rnd, batch, m, n, ElementType.F32, false, 1, 1, 4, beta == 0f);
            long strideB = Fixture.stride(b);
            Fixture.Expected[] want = new Fixture.Expected[batch];
            for (int t = 0; t < batch; t++) {
                want[t] = Fixture.expect(a[t], b[shareB ? 0 : t], c[t], alpha, beta);
            }
            float[] before = Fixture.snapshot(c[0]);
            gemm.gemmBatched(batch, transA, transB, m, n, k, alpha,
                    a[0].seg(), a[0].off(), a[0].ld(), Fixture.stride(a), type,
                    b[0].seg(), b[0].off(), b[0].ld(), strideB, type,
                    beta, c[0].seg(), c[0].off(), c[0].ld(), Fixture.stride(c));
            String what = String.format("batch %d, %dx%dx%d tA=%b tB=%b %s scalar=%b", batch, m, n, k, transA,
                    transB, type, gemm.isScalar());
            for (int t = 0; t < batch; t++) {
                Fixture.checkValues(what + ", member " + t, want[t], c[t]);
            }
            Fixture.checkUntouched(what, before, batch == 0 ? new Matrix[] {c[0].emptyView()} : c);
        }
    }
}
