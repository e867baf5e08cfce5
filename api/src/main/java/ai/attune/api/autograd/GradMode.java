package ai.attune.api.autograd;

/**
 * Whether ops record history on the calling thread ({@code torch.is_grad_enabled}). Thread-local,
 * like PyTorch's, so a no-grad evaluation on one thread leaves training on another untouched.
 */
public final class GradMode {
    private static final ThreadLocal<boolean[]> ENABLED = ThreadLocal.withInitial(() -> new boolean[] {true});

    private GradMode() {}

    public static boolean isEnabled() {
        return ENABLED.get()[0];
    }

    /** A region where ops record nothing ({@code with torch.no_grad():}); closing restores the previous mode. */
    public static Region noGrad() {
        return set(false);
    }

    /** A region where recording is on again, e.g. recomputation inside a checkpointed backward. */
    public static Region enableGrad() {
        return set(true);
    }

    private static Region set(boolean value) {
        boolean[] flag = ENABLED.get();
        boolean previous = flag[0];
        flag[0] = value;
        return () -> flag[0] = previous;
    }

    /** A grad-mode region; closing it restores the mode before it. */
    public interface Region extends AutoCloseable {
        @Override
        void close();
    }
}
