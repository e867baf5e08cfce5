package ai.attune.kernels.jvm.parallel;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The one fan-out every jvm kernel uses: units 0..count-1 are claimed from a shared counter by the
 * calling thread and up to {@code workers - 1} pool threads, each with its own state (scratch
 * buffers). The caller works too, so a kernel called from inside the pool cannot deadlock it, and
 * a pool that refuses work (shutting down) leaves the units to the caller. After a failure the
 * remaining units are skipped and the first failure is rethrown once all threads are done.
 */
public final class Parallel {
    /** The work of one unit, given the claiming thread's state. */
    @FunctionalInterface
    public interface Body<S> {
        void run(int unit, S state);
    }

    private Parallel() {}

    /**
     * @param executor may be null: everything then runs on the caller
     * @param state    makes a thread's state on its first unit
     * @param release  gets each thread's state back when the thread is done (e.g. to pool buffers)
     */
    public static <S> void forEach(ExecutorService executor, int workers, int count, Supplier<S> state, Consumer<S> release, Body<S> body) {
        if (count <= 0) {
            return;
        }
        if (executor == null || workers <= 1 || count == 1) {
            S own = state.get();
            try {
                for (int u = 0; u < count; u++) {
                    body.run(u, own);
                }
            } finally {
                release.accept(own);
            }
            return;
        }
        AtomicInteger next = new AtomicInteger();
        CountDownLatch done = new CountDownLatch(count);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Runnable worker = () -> {
            S own = null;
            try {
                for (int u; (u = next.getAndIncrement()) < count; ) {
                    try {
                        if (failure.get() == null) {
                            if (own == null) {
                                own = state.get();
                            }
                            body.run(u, own);
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    } finally {
                        // Every claimed unit counts down, failed or skipped, or the caller would wait forever.
                        done.countDown();
                    }
                }
            } finally {
                if (own != null) {
                    release.accept(own);
                }
            }
        };
        for (int w = 1; w < Math.min(workers, count); w++) {
            try {
                executor.execute(worker);
            } catch (RejectedExecutionException e) {
                break;
            }
        }
        worker.run();
        awaitUninterruptibly(done);
        Throwable e = failure.get();
        if (e instanceof RuntimeException re) {
            throw re;
        }
        if (e instanceof Error err) {
            throw err;
        }
        if (e != null) {
            throw new IllegalStateException(e);
        }
    }

    /** Units still running write into the caller's outputs, so returning early on interrupt is not an option. */
    private static void awaitUninterruptibly(CountDownLatch latch) {
        boolean interrupted = false;
        while (true) {
            try {
                latch.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
