package ai.attune.kernels.torch;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.global.torch;

import java.io.IOException;

/**
 * Loads libtorch's natives for every service of this bundle (the tensor backend, the process
 * groups): {@link NativeCache} fills the JavaCPP cache completely first, then JavaCPP loads from it.
 * This happens once per class loader, on first use; its outcome is kept.
 */
final class Libtorch {
    private Libtorch() {}

    /** Null when libtorch is loaded; else why not, in one line naming the cache. */
    static String unavailableReason() {
        return Outcome.REASON;
    }

    /** Initialised on the first call only (the JVM's lazy class initialisation), then immutable. */
    private static final class Outcome {
        static final String REASON = load();
    }

    private static String load() {
        try {
            NativeCache.prepare(); // before the first touch of the torch class, which loads the natives
            Loader.load(torch.class);
            return null;
        } catch (IOException e) {
            return e.getMessage();
        } catch (LinkageError e) { // UnsatisfiedLinkError, or NoClassDefFoundError after a failed load
            return "libtorch (org.bytedeco:pytorch) did not load: " + e.getMessage() + "; natives are cached in " + NativeCache.directory();
        }
    }
}
