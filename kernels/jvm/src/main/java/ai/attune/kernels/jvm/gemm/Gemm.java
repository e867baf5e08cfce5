package ai.attune.kernels.jvm.gemm;

import ai.attune.kernels.jvm.parallel.Parallel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;

import static ai.attune.kernels.jvm.gemm.MicroKernel.MR;
import static ai.attune.kernels.jvm.gemm.MicroKernel.NR;

/**
 * f32 GEMM over native memory segments: {@code C = alpha * op(A) op(B) + beta * C}, row-major,
 * with op(X) = X or X^T. A and B may be f32, bf16 or f16 (widened to f32 while packing); C and the
 * accumulation are always f32.
 *
 * <p>Work is cut into tiles of C that run the blocked algorithm ({@link BlockedGemm}) on the
 * caller's executor. The calling thread works too, and tasks are claimed from a shared counter
 * rather than assigned, so a tile is never waited on before some thread has started it: a call made
 * from inside the same pool cannot deadlock, it just gets less help.
 *
 * <p>Instances are safe for concurrent use; each running task borrows a {@link Workspace} (about
 * 4.4 MiB of packing buffers) from the instance and gives it back, so an instance keeps one per
 * thread that has worked for it at once. Segments must be readable from the pool's threads (global,
 * auto or shared arenas); with a confined segment the call runs on the calling thread alone.
 * With {@code -Dattune.jvm.scalar=true} (read at construction) every call takes the reference loop
 * of {@link ScalarGemm} instead.
 */
public final class Gemm {

    /** Below this many flops (~80 us of one core) a task is not worth waking another thread for. */
    private static final long MIN_TASK_FLOPS = 1L << 23;

    private final ExecutorService executor;
    private final int parallelism;
    private final boolean scalar;
    private final ConcurrentLinkedQueue<Workspace> workspaces = new ConcurrentLinkedQueue<>();
    /**
     * Never started; only asked "could another thread read this segment?". A segment from a
     * confined arena answers no, and then the call runs on the calling thread alone.
     */
    private final Thread otherThread = Thread.ofPlatform().unstarted(() -> { });

    /**
     * @param executor    pool the tiles run on (owned by the caller, typically one thread per core)
     * @param parallelism how many threads one call may keep busy, the caller's included
     */
    public Gemm(ExecutorService executor, int parallelism) {
        this(executor, parallelism, Boolean.parseBoolean(System.getProperty("attune.jvm.scalar")));
    }

    /** As {@link #Gemm(ExecutorService, int)}, choosing the scalar reference path explicitly. */
    public Gemm(ExecutorService executor, int parallelism, boolean scalar) {
        if (parallelism < 1) {
            throw new IllegalArgumentException("parallelism must be >= 1: " + parallelism);
        }
        this.executor = Objects.requireNonNull(executor, "executor");
        this.parallelism = parallelism;
        this.scalar = scalar;
    }

    /** Whether this instance runs the scalar reference loop instead of the SIMD kernel. */
    public boolean isScalar() {
        return scalar;
    }

    /**
     * C[m,n] = alpha * op(A) @ op(B) + beta * C, row-major. A is [m,k] ([k,m] when transA) with
     * element (i,p) at {@code aOff + i*lda + p} ({@code aOff + p*lda + i} when transposed); B is
     * [k,n] ([n,k] when transB) likewise. Offsets and leading dimensions count elements of the
     * operand's type. When beta == 0, C is only written, never read. C must not overlap A or B.
     */
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                     MemorySegment a, long aOff, int lda, ElementType aType,
                     MemorySegment b, long bOff, int ldb, ElementType bType,
                     float beta, MemorySegment c, long cOff, int ldc) {
        gemmBatched(1, transA, transB, m, n, k, alpha, a, aOff, lda, 0, aType, b, bOff, ldb, 0, bType,
                beta, c, cOff, ldc, 0);
    }

    /**
     * The {@link #gemm} contract, then {@code bias[j]} (f32, element {@code biasOff + j}) added to
     * every row: C[i,j] = (alpha * op(A) @ op(B) + beta * C)[i,j] + bias[j], rounded as that GEMM
     * followed by an add (the bias joins the finished sum). A linear layer's bias so costs no pass
     * over C of its own: it was a tenth of a BERT embedding pass as a separate add.
     */
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                     MemorySegment a, long aOff, int lda, ElementType aType,
                     MemorySegment b, long bOff, int ldb, ElementType bType,
                     float beta, MemorySegment c, long cOff, int ldc, MemorySegment bias, long biasOff) {
        Objects.requireNonNull(bias, "bias");
        new Operand(bias, biasOff, n, ElementType.F32, false).checkBounds("bias", 1, n);
        run(1, m, n, k, alpha, new Operand(a, aOff, lda, aType, transA), 0, new Operand(b, bOff, ldb, bType, transB), 0,
                beta, c, cOff, ldc, 0, bias, biasOff, a.isAccessibleBy(otherThread) && b.isAccessibleBy(otherThread)
                        && bias.isAccessibleBy(otherThread));
    }

    /**
     * {@code batch} independent GEMMs with the {@link #gemm} contract; member t uses A at
     * {@code aOff + t*strideA}, B at {@code bOff + t*strideB} and C at {@code cOff + t*strideC}
     * (strides in elements). A stride of 0 shares that operand across the batch (for A and B only:
     * the C matrices must not overlap).
     */
    public void gemmBatched(int batch, boolean transA, boolean transB, int m, int n, int k, float alpha,
                            MemorySegment a, long aOff, int lda, long strideA, ElementType aType,
                            MemorySegment b, long bOff, int ldb, long strideB, ElementType bType,
                            float beta, MemorySegment c, long cOff, int ldc, long strideC) {
        if (batch < 0 || strideA < 0 || strideB < 0 || strideC < 0) {
            throw new IllegalArgumentException("batch and strides must be >= 0");
        }
        if (batch > 1 && strideC == 0 && (long) m * n > 0) {
            throw new IllegalArgumentException("strideC == 0 would make the batch's C matrices overlap");
        }
        run(batch, m, n, k, alpha, new Operand(a, aOff, lda, aType, transA), strideA, new Operand(b, bOff, ldb, bType, transB), strideB,
                beta, c, cOff, ldc, strideC, null, 0, a.isAccessibleBy(otherThread) && b.isAccessibleBy(otherThread));
    }

    /**
     * C[m,n] = alpha * op(A) @ op(B) + beta * C with the {@link #gemm} contract, for a B held in
     * blockwise 4-bit form: B is the row-major [k, n] matrix of {@code b}'s elements ([n, k] when
     * transB). Its codes are decoded while they are packed, which is the only copy of B made.
     */
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                     MemorySegment a, long aOff, int lda, ElementType aType,
                     FourBitBlocks b, float beta, MemorySegment c, long cOff, int ldc) {
        run(1, m, n, k, alpha, new Operand(a, aOff, lda, aType, transA), 0, new Operand(b, transB ? k : n, transB), 0,
                beta, c, cOff, ldc, 0, null, 0, a.isAccessibleBy(otherThread) && b.codes().isAccessibleBy(otherThread)
                        && b.absmax().isAccessibleBy(otherThread));
    }

    private void run(int batch, int m, int n, int k, float alpha, Operand opA, long strideA, Operand opB, long strideB,
                     float beta, MemorySegment c, long cOff, int ldc, long strideC, MemorySegment bias, long biasOff,
                     boolean operandsShareable) {
        checkArguments(m, n, k, opA, opB, c, cOff, ldc);
        if (batch == 0 || m == 0 || n == 0) {
            return;
        }
        long last = batch - 1L;
        checkArguments(m, n, k, opA.shifted(last * strideA), opB.shifted(last * strideB), c,
                cOff + last * strideC, ldc);
        if (scalar) {
            for (int t = 0; t < batch; t++) {
                ScalarGemm.gemm(m, n, k, alpha, opA.shifted(t * strideA), opB.shifted(t * strideB), beta,
                        c, cOff + t * strideC, ldc);
                addBias(m, n, c, cOff + t * strideC, ldc, bias, biasOff);
            }
            return;
        }
        if (k == 0 || alpha == 0f) {
            for (int t = 0; t < batch; t++) {
                scale(m, n, beta, c, cOff + t * strideC, ldc);
                addBias(m, n, c, cOff + t * strideC, ldc, bias, biasOff);
            }
            return;
        }
        boolean shareable = operandsShareable && c.isAccessibleBy(otherThread);
        new Plan(batch, m, n, k, alpha, opA, strideA, opB, strideB, beta, c, cOff, ldc, strideC, bias, biasOff)
                .run(shareable ? parallelism : 1);
    }

    /**
     * How the batch is cut into tasks. Each batch member splits into {@code tilesPerMember} tiles
     * along m or n; every tile packs its own copy of the operand it shares with the others (all of
     * B when m is split, all of A when n is split), so the split goes where that duplicate is
     * cheaper. The tile count is chosen so that tasks divide evenly over the threads where possible
     * (3 members on 2 threads become 6 half-members, not 2 + 1).
     */
    private final class Plan {
        final int batch, m, n, k;
        final float alpha, beta;
        final Operand a, b;
        final long strideA, strideB, strideC, cOff;
        final MemorySegment c;
        final int ldc;
        final MemorySegment bias;
        final long biasOff;
        final boolean splitRows;
        final int tilesPerMember;
        final int splitPanels;

        Plan(int batch, int m, int n, int k, float alpha, Operand a, long strideA, Operand b, long strideB,
             float beta, MemorySegment c, long cOff, int ldc, long strideC, MemorySegment bias, long biasOff) {
            this.batch = batch;
            this.m = m;
            this.n = n;
            this.k = k;
            this.alpha = alpha;
            this.beta = beta;
            this.a = a;
            this.b = b;
            this.strideA = strideA;
            this.strideB = strideB;
            this.strideC = strideC;
            this.c = c;
            this.cOff = cOff;
            this.ldc = ldc;
            this.bias = bias;
            this.biasOff = biasOff;
            int rowPanels = (m + MR - 1) / MR;
            int colPanels = (n + NR - 1) / NR;
            long memberFlops = 2L * m * n * k;
            int wanted = parallelism / gcd(batch, parallelism);
            int tiles = (int) Math.min(wanted, Math.max(1, memberFlops / MIN_TASK_FLOPS));
            // Relative packing cost per element, as measured: a transposing pack (lines stored
            // contiguously, see Packing) costs about twice a straight one.
            double costA = a.trans() ? 1.0 : 2.0;
            double costB = b.trans() ? 2.0 : 1.0;
            boolean rowsCheaper = (double) n * costB <= (double) m * costA;
            boolean rowsSplit = rowPanels >= tiles;
            boolean colsSplit = colPanels >= tiles;
            this.splitRows = rowsSplit && colsSplit ? rowsCheaper : rowsSplit || !colsSplit && rowPanels >= colPanels;
            this.splitPanels = splitRows ? rowPanels : colPanels;
            this.tilesPerMember = Math.min(tiles, splitPanels);
        }

        void run(int threads) {
            long tasks = (long) batch * tilesPerMember;
            long flops = 2L * m * n * k * batch;
            int workers = (int) Math.min(Math.min(threads, tasks), Math.max(1, flops / MIN_TASK_FLOPS));
            forEachTask((int) tasks, workers, this::task);
        }

        private void task(int t, Workspace ws) {
            int member = t / tilesPerMember;
            int tile = t % tilesPerMember;
            // Tile edges on panel boundaries, so only the matrix edge has partial tiles.
            int from = (int) ((long) splitPanels * tile / tilesPerMember);
            int to = (int) ((long) splitPanels * (tile + 1) / tilesPerMember);
            int i0 = 0, i1 = m, j0 = 0, j1 = n;
            if (splitRows) {
                i0 = from * MR;
                i1 = Math.min(m, to * MR);
            } else {
                j0 = from * NR;
                j1 = Math.min(n, to * NR);
            }
            BlockedGemm.run(a.shifted(member * strideA), b.shifted(member * strideB), i0, i1, j0, j1, k,
                    alpha, beta, c, cOff + member * strideC, ldc, bias, biasOff, ws);
        }
    }

    private interface Task {
        void run(int index, Workspace ws);
    }

    /** Runs tasks 0..count-1 on up to {@code workers} threads, this one included, and waits for all. */
    private void forEachTask(int count, int workers, Task body) {
        Parallel.forEach(executor, workers, count, this::borrow, workspaces::add, body::run);
    }

    private Workspace borrow() {
        Workspace ws = workspaces.poll();
        return ws != null ? ws : new Workspace();
    }

    /** C = beta * C: the whole GEMM when k == 0 or alpha == 0. beta == 0 writes zeros without reading. */
    private static void scale(int m, int n, float beta, MemorySegment c, long cOff, int ldc) {
        if (beta == 1f) {
            return;
        }
        for (int i = 0; i < m; i++) {
            long row = (cOff + (long) i * ldc) * Float.BYTES;
            if (beta == 0f) {
                c.asSlice(row, (long) n * Float.BYTES).fill((byte) 0);
                continue;
            }
            for (int j = 0; j < n; j++) {
                long at = row + (long) j * Float.BYTES;
                c.set(ValueLayout.JAVA_FLOAT_UNALIGNED, at, beta * c.get(ValueLayout.JAVA_FLOAT_UNALIGNED, at));
            }
        }
    }

    /** C[i, j] += bias[j] when bias is not null, as a separate add would round it. */
    private static void addBias(int m, int n, MemorySegment c, long cOff, int ldc, MemorySegment bias, long biasOff) {
        if (bias == null) {
            return;
        }
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                long at = (cOff + (long) i * ldc + j) * Float.BYTES;
                c.set(ValueLayout.JAVA_FLOAT_UNALIGNED, at, c.get(ValueLayout.JAVA_FLOAT_UNALIGNED, at)
                        + bias.get(ValueLayout.JAVA_FLOAT_UNALIGNED, (biasOff + j) * Float.BYTES));
            }
        }
    }

    static void checkArguments(int m, int n, int k, Operand a, Operand b, MemorySegment c, long cOff, int ldc) {
        if (m < 0 || n < 0 || k < 0) {
            throw new IllegalArgumentException("negative dimension: m=" + m + " n=" + n + " k=" + k);
        }
        a.checkBounds("A", m, k);
        b.checkBounds("B", k, n);
        new Operand(c, cOff, ldc, ElementType.F32, false).checkBounds("C", m, n);
    }

    private static int gcd(int x, int y) {
        while (y != 0) {
            int t = x % y;
            x = y;
            y = t;
        }
        return x;
    }
}
