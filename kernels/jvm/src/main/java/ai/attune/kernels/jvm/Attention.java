package ai.attune.kernels.jvm;

import ai.attune.kernels.jvm.parallel.Parallel;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;

import java.util.Arrays;
import java.util.concurrent.ExecutorService;
import java.util.function.Supplier;

/**
 * Fused scaled-dot-product attention, forward and backward, in the manner of FlashAttention-2:
 * queries go in tiles of {@code br} rows against key/value tiles of {@code bc} rows with an online
 * softmax (running max m, running sum l and an unnormalised output per query row), so no [s, t]
 * array ever exists; the backward recomputes each probability tile from the saved log-sum-exp.
 * The contract is {@link ai.attune.api.tensor.Backend#attention} and
 * {@link ai.attune.api.tensor.Backend#attentionBackward}.
 *
 * <p>f64 inputs run {@link AttentionF64} (double tiles, plain loops: the path gradient checks
 * take, so it is exact rather than fast); f32, bf16 and f16 inputs run {@link AttentionF32} (f32
 * tiles, Vector API).
 *
 * <p>Work splits into units: the forward into (batch, query head, query tile), the backward into
 * (batch, kv head), because a backward unit owns the dK/dV rows of its kv head, summed over the
 * query heads that share it under GQA, so no two threads ever write the same gradient. Units are
 * claimed from a shared counter by the calling thread and up to {@code parallelism - 1} threads of
 * the executor: a call made from inside that pool cannot deadlock, it gets less help. A unit
 * computes the same numbers whichever thread runs it, so results do not depend on the thread count.
 */
final class Attention {
    /** Query rows per tile (Br). */
    static final int BLOCK_ROWS = 64;
    /** Key rows per tile (Bc). 64 f32 scores are four AVX-512 vectors, and a tile of K, V for d = 128 stays in L1. */
    static final int BLOCK_COLS = 64;
    /** Below this many flops handing units to other threads costs more than it saves (~20 us of one core). */
    private static final long MIN_PARALLEL_FLOPS = 1L << 21;

    private Attention() {}

    // ---- entry points, one per Backend method ----

    /** {@link ai.attune.api.tensor.Backend#attention} on the calling thread alone. */
    static void forward(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse) {
        forward(q, k, v, keyMask, causal, scale, out, lse, null, 1);
    }

    /**
     * {@link ai.attune.api.tensor.Backend#attention} on up to {@code parallelism} threads: the
     * caller's and {@code parallelism - 1} of {@code executor} (which may be null to stay on the caller).
     */
    static void forward(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse,
                        ExecutorService executor, int parallelism) {
        forward(q, k, v, keyMask, causal, scale, out, lse, BLOCK_ROWS, BLOCK_COLS, executor, parallelism);
    }

    /**
     * The scalar reference path ({@code -Dattune.jvm.scalar=true}): the plain double loops of
     * {@link AttentionF64} for every dtype, which the Vector API kernel is tested against.
     */
    static void forwardReference(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse) {
        Call c = Call.of(q, k, v, keyMask, causal, scale, out, lse, null, null, null, null, BLOCK_ROWS, BLOCK_COLS);
        runForward(c, new AttentionF64(c), new Pool(null, 1));
    }

    /** The scalar reference of {@link #backward}. */
    static void backwardReference(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse,
                                  Tensor gradOut, Tensor gradQ, Tensor gradK, Tensor gradV) {
        Call c = Call.of(q, k, v, keyMask, causal, scale, out, lse, gradOut, gradQ, gradK, gradV, BLOCK_ROWS, BLOCK_COLS);
        runBackward(c, new AttentionF64(c), new Pool(null, 1));
    }

    /** {@link #forward} with explicit tile sizes, so tests can cross tile edges on small inputs. */
    static void forward(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse,
                        int br, int bc, ExecutorService executor, int parallelism) {
        Call c = Call.of(q, k, v, keyMask, causal, scale, out, lse, null, null, null, null, br, bc);
        Pool pool = new Pool(executor, parallelism);
        if (c.f64()) {
            runForward(c, new AttentionF64(c), pool);
        } else {
            runForward(c, new AttentionF32(c), pool);
        }
    }

    /** {@link ai.attune.api.tensor.Backend#attentionBackward} on the calling thread alone. */
    static void backward(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse,
                         Tensor gradOut, Tensor gradQ, Tensor gradK, Tensor gradV) {
        backward(q, k, v, keyMask, causal, scale, out, lse, gradOut, gradQ, gradK, gradV, null, 1);
    }

    /** {@link ai.attune.api.tensor.Backend#attentionBackward} on up to {@code parallelism} threads, as {@link #forward}. */
    static void backward(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse,
                         Tensor gradOut, Tensor gradQ, Tensor gradK, Tensor gradV, ExecutorService executor, int parallelism) {
        backward(q, k, v, keyMask, causal, scale, out, lse, gradOut, gradQ, gradK, gradV, BLOCK_ROWS, BLOCK_COLS,
                executor, parallelism);
    }

    /** {@link #backward} with explicit tile sizes. */
    static void backward(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse,
                         Tensor gradOut, Tensor gradQ, Tensor gradK, Tensor gradV, int br, int bc,
                         ExecutorService executor, int parallelism) {
        Call c = Call.of(q, k, v, keyMask, causal, scale, out, lse, gradOut, gradQ, gradK, gradV, br, bc);
        Pool pool = new Pool(executor, parallelism);
        if (c.f64()) {
            runBackward(c, new AttentionF64(c), pool);
        } else {
            runBackward(c, new AttentionF32(c), pool);
        }
    }

    // ---- work split ----

    /** What each precision implements: one query tile of the forward, one kv head of the backward. */
    interface Kernel<F, B> {
        F forwardScratch();

        /** Writes out and lse of query rows [i0, min(i0 + br, s)) of head h. */
        void forwardTile(F scratch, int b, int h, int i0);

        B backwardScratch();

        /** Writes gradK, gradV of kv head kvh and gradQ of every query head that reads it. */
        void backwardHead(B scratch, int b, int kvh);
    }

    private static <F, B> void runForward(Call c, Kernel<F, B> kernel, Pool pool) {
        int tiles = ceilDiv(c.s(), c.br());
        long units = (long) c.batch() * c.hq() * tiles;
        long flops = 4L * c.batch() * c.hq() * c.s() * c.t() * c.d();
        pool.forEach(Math.toIntExact(units), flops, kernel::forwardScratch, (u, scratch) -> {
            // Under causal masking the last query tiles see the most keys: start them first so
            // the long units do not end up alone at the tail of the run.
            int tile = tiles - 1 - u % tiles;
            int bh = u / tiles;
            kernel.forwardTile(scratch, bh / c.hq(), bh % c.hq(), tile * c.br());
        });
    }

    private static <F, B> void runBackward(Call c, Kernel<F, B> kernel, Pool pool) {
        long flops = 10L * c.batch() * c.hq() * c.s() * c.t() * c.d();
        pool.forEach(c.batch() * c.hkv(), flops, kernel::backwardScratch,
                (u, scratch) -> kernel.backwardHead(scratch, u / c.hkv(), u % c.hkv()));
    }

    static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    /** Runs units on the caller and up to parallelism - 1 executor threads; each thread makes its own scratch. */
    record Pool(ExecutorService executor, int parallelism) {
        interface Body<S> {
            void run(int unit, S scratch);
        }

        Pool {
            if (parallelism < 1) {
                throw new IllegalArgumentException("parallelism must be >= 1: " + parallelism);
            }
        }

        <S> void forEach(int count, long flops, Supplier<S> scratch, Body<S> body) {
            long workers = Math.min(Math.min(parallelism, count), Math.max(1, flops / MIN_PARALLEL_FLOPS));
            Parallel.forEach(executor, (int) workers, count, scratch, s -> { }, body::run);
        }
    }

    // ---- one call's sizes and views ----

    /**
     * The sizes and resolved views of one call: q [batch, hq, s, d], k and v [batch, hkv, t, d],
     * out/gradOut/gradQ like q, gradK/gradV like k, lse [batch, hq, s]. The gradient views are null
     * for a forward call; mask is null without a key mask (it is [batch, t], viewed as [batch, 1, t]).
     */
    record Call(int batch, int hq, int hkv, int s, int t, int d, boolean causal, double scale, int br, int bc, boolean f64,
                AttentionOperand q, AttentionOperand k, AttentionOperand v, AttentionOperand out, AttentionOperand lse,
                AttentionOperand mask, AttentionOperand gradOut, AttentionOperand gradQ, AttentionOperand gradK,
                AttentionOperand gradV) {

        /** Query heads per kv head. */
        int group() {
            return hq / hkv;
        }

        /** Query i may see keys [0, keyEnd(i)): all of them, or under the causal rule those with j <= i + t - s. */
        int keyEnd(int i) {
            return causal ? (int) Math.max(0, Math.min(t, (long) i + t - s + 1)) : t;
        }

        /** The first query that may see key j (s when none does). */
        int firstQuery(int j) {
            return causal ? (int) Math.min(s, Math.max(0, (long) j - t + s)) : 0;
        }

        /** Whether the padding mask lets batch b attend key j. */
        boolean keep(int b, int j) {
            return mask == null || mask.get(b, 0, j) != 0;
        }

        static Call of(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse,
                       Tensor gradOut, Tensor gradQ, Tensor gradK, Tensor gradV, int br, int bc) {
            rank(q, 4, "q");
            rank(k, 4, "k");
            int[] qs = q.shape();
            int[] ks = k.shape();
            int batch = qs[0], hq = qs[1], s = qs[2], d = qs[3];
            int hkv = ks[1], t = ks[2];
            if (ks[0] != batch || ks[3] != d) {
                throw new IllegalArgumentException("attention: k " + Shape.str(ks) + " does not match q " + Shape.str(qs)
                        + " in batch or head dim");
            }
            if (hkv < 1 || hq % hkv != 0) {
                throw new IllegalArgumentException("attention: " + hq + " query heads are not a multiple of " + hkv + " kv heads");
            }
            if (br < 1 || bc < 1) {
                throw new IllegalArgumentException("attention: tile sizes must be >= 1: " + br + " x " + bc);
            }
            int[] kvShape = {batch, hkv, t, d};
            expect(v, kvShape, "v");
            expect(out, qs, "out");
            expect(lse, new int[]{batch, hq, s}, "lse");
            floating(q, "q");
            floating(k, "k");
            floating(v, "v");
            floating(out, "out");
            floating(lse, "lse");
            AttentionOperand mask = null;
            if (keyMask != null) {
                expect(keyMask, new int[]{batch, t}, "keyMask");
                mask = new AttentionOperand(Elementwise.seg(keyMask), keyMask.dtype(), keyMask.offset(),
                        keyMask.stride(0), 0, keyMask.stride(1), 0);
            }
            boolean backward = gradOut != null;
            if (backward) {
                expect(gradOut, qs, "gradOut");
                expect(gradQ, qs, "gradQ");
                expect(gradK, kvShape, "gradK");
                expect(gradV, kvShape, "gradV");
                floating(gradOut, "gradOut");
                floating(gradQ, "gradQ");
                floating(gradK, "gradK");
                floating(gradV, "gradV");
            }
            boolean f64 = q.dtype() == DType.F64 || k.dtype() == DType.F64 || v.dtype() == DType.F64;
            return new Call(batch, hq, hkv, s, t, d, causal, scale, br, bc, f64,
                    AttentionOperand.of(q), AttentionOperand.of(k), AttentionOperand.of(v), AttentionOperand.of(out),
                    AttentionOperand.of(lse), mask,
                    backward ? AttentionOperand.of(gradOut) : null, backward ? AttentionOperand.of(gradQ) : null,
                    backward ? AttentionOperand.of(gradK) : null, backward ? AttentionOperand.of(gradV) : null);
        }

        private static void rank(Tensor t, int rank, String name) {
            if (t == null || t.rank() != rank) {
                throw new IllegalArgumentException("attention: " + name + " must have rank " + rank
                        + (t == null ? ", got null" : ", got " + Shape.str(t.shape())));
            }
        }

        private static void expect(Tensor t, int[] shape, String name) {
            if (t == null || !Arrays.equals(t.shape(), shape)) {
                throw new IllegalArgumentException("attention: " + name + " must be " + Shape.str(shape)
                        + (t == null ? ", got null" : ", got " + Shape.str(t.shape())));
            }
        }

        private static void floating(Tensor t, String name) {
            if (!t.dtype().isFloatingPoint()) {
                throw new IllegalArgumentException("attention: " + name + " must be floating point, got " + t.dtype());
            }
        }
    }
}
