package ai.attune.api.tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.IdentityHashMap;
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
    private final Map<Object, AutoCloseable> backendArenas = new IdentityHashMap<>();
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
     * The backend's allocation arena for this scope, created on first use. Backends keep one arena
     * per scope so that closing the scope is one release, not one per tensor.
     */
    @SuppressWarnings("unchecked")
    public synchronized <A extends AutoCloseable> A arena(Object backendKey, Supplier<A> create) {
        ensureOpen();
        return (A) backendArenas.computeIfAbsent(backendKey, k -> create.get());
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
        if (owner != null) {
            Deque<Scope> stack = OPEN.get();
            if (owner == Thread.currentThread()) {
                stack.remove(this);
            }
        }
        RuntimeException failure = null;
        for (int i = resources.size() - 1; i >= 0; i--) {
            failure = closeQuietly(resources.get(i), failure);
        }
        for (AutoCloseable a : backendArenas.values()) {
            failure = closeQuietly(a, failure);
        }
        resources.clear();
        backendArenas.clear();
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
