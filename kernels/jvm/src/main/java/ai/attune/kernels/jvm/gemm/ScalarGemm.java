package ai.attune.kernels.jvm.gemm;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The reference GEMM: a plain triple loop that sums each dot product in f32 in natural k order.
 * It is the path {@code -Dattune.jvm.scalar=true} selects, and the readable statement of what the
 * blocked kernel must compute.
 */
public final class ScalarGemm {

    private ScalarGemm() {
    }

    /** Same contract as {@link Gemm#gemm}, single-threaded. */
    public static void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                            MemorySegment a, long aOff, int lda, ElementType aType,
                            MemorySegment b, long bOff, int ldb, ElementType bType,
                            float beta, MemorySegment c, long cOff, int ldc) {
        Operand opA = new Operand(a, aOff, lda, aType, transA);
        Operand opB = new Operand(b, bOff, ldb, bType, transB);
        Gemm.checkArguments(m, n, k, opA, opB, c, cOff, ldc);
        gemm(m, n, k, alpha, opA, opB, beta, c, cOff, ldc);
    }

    static void gemm(int m, int n, int k, float alpha, Operand a, Operand b,
                     float beta, MemorySegment c, long cOff, int ldc) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                float sum = 0f;
                if (alpha != 0f) {
                    for (int p = 0; p < k; p++) {
                        sum += a.get(i, p) * b.get(p, j);
                    }
                }
                long at = (cOff + (long) i * ldc + j) * 4;
                // beta == 0 means "ignore C", not "multiply C by zero": C may hold NaN garbage.
                float old = beta == 0f ? 0f : beta * c.get(ValueLayout.JAVA_FLOAT_UNALIGNED, at);
                c.set(ValueLayout.JAVA_FLOAT_UNALIGNED, at, alpha * sum + old);
            }
        }
    }
}
