package ai.attune.api.tensor;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The lifetime of off-heap tensor storage. Closing a scope frees every storage allocated in it;
 * nothing relies on the garbage collector to free native memory.
 *
 * <p>Scopes nest per thread: the ops allocate their results in the innermost open scope of the
 * calling thread, so a training step's temporaries die with the step's scope while parameters and
 * optimizer state live in the job's scope. The per-thread stack is the same idea as PyTorch's
 * thread-local grad mode: context that follows the computation, not global state.
 */
public final class Scope implements AutoCloseable {
    private static final ThreadLocal<Deque<Scope>> OPEN = ThreadLocal.withInitial(ArrayDeque::new);

    private final String name;
    private final Thread owner;
    /** The pool blocks this scope holds, by address: what {@link #release} and {@link #close} give back. */
    private final Map<Long, BlockPool.Block> blocks = new HashMap<>();
    private final List<AutoCloseable> resources = new ArrayList<>();
    private boolean closed;

    private Scope(String name, Thread owner) {
        this.name = name;
        this.owner = owner;
    }

    /** Opens a scope and makes it the current one of this thread until closed. */
    public static Scope open(String name) {
        Scope s = new Scope(name, Thread.currentThread());
        OPEN.get().push(s);
        return s;
    }

    public static Scope open() {
        return open("scope");
    }

    /** Creates a scope that is not pushed on the thread's stack: for state that outlives any block, e.g. a job's weights. */
    public static Scope detached(String name) {
        return new Scope(name, null);
    }

    /** The innermost open scope of this thread. */
    public static Scope current() {
        Scope s = OPEN.get().peek();
        if (s == null) {
            throw new IllegalStateException("no open Scope on this thread: wrap tensor work in try (Scope s = Scope.open()) { ... }");
        }
        return s;
    }

    /** Runs {@code body} with {@code this} as the current scope, e.g. to allocate long-lived state from inside a step. */
    public <T> T within(Supplier<T> body) {
        Deque<Scope> stack = OPEN.get();
        stack.push(this);
        try {
            return body.get();
        } finally {
            stack.pop();
        }
    }

    /**
     * Native memory for {@code bytes} of tensor storage, 64-byte aligned, owned by this scope until
     * it closes or the storage is {@link #release}d; zero-filled when {@code zeroed}, else of
     * whatever a recycled block held (for outputs a kernel overwrites completely).
     */
    public synchronized MemorySegment allocate(long bytes, boolean zeroed) {
        ensureOpen();
        BlockPool.Block b = BlockPool.shared().take(bytes, zeroed);
        OpProfile.allocated(bytes);
        blocks.put(b.memory().address(), b);
        return b.memory().asSlice(0, Math.max(bytes, 1));
    }

    /**
     * Gives the block behind {@code memory} (a segment {@link #allocate} returned) back to the pool
     * before the scope closes: autograd does this for storage backward no longer needs. A second
     * release, or one of memory this scope does not hold, does nothing.
     */
    public synchronized void release(MemorySegment memory) {
        BlockPool.Block b = closed ? null : blocks.remove(memory.address());
        if (b != null) {
            BlockPool.shared().give(b);
        }
    }

    /** Ties a resource to this scope: it is closed when the scope is. */
    public synchronized void register(AutoCloseable resource) {
        ensureOpen();
        resources.add(resource);
    }

    public String name() {
        return name;
    }

    public synchronized boolean isClosed() {
        return closed;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("scope '" + name + "' is closed");
        }
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        boolean outermost = false;
        if (owner != null) {
            Deque<Scope> stack = OPEN.get();
            if (owner == Thread.currentThread()) {
                stack.remove(this);
                outermost = stack.isEmpty();
            }
        }
        RuntimeException failure = null;
        for (int i = resources.size() - 1; i >= 0; i--) {
            failure = closeQuietly(resources.get(i), failure);
        }
        synchronized (this) {
            for (BlockPool.Block b : blocks.values()) {
                BlockPool.shared().give(b);
            }
            blocks.clear();
        }
        resources.clear();
        if (outermost) {
            BlockPool.trim(); // the thread's work is done: what it cached goes back to the system
        }
        if (failure != null) {
            throw failure;
        }
    }

    private static RuntimeException closeQuietly(AutoCloseable c, RuntimeException failure) {
        try {
            c.close();
        } catch (Exception e) {
            RuntimeException r = e instanceof RuntimeException re ? re : new RuntimeException(e);
            if (failure == null) {
                return r;
            }
            failure.addSuppressed(r);
        }
        return failure;
    }
}
