package ai.attune.api.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Locale;

/**
 * Large blocks straight from the kernel as anonymous private mappings, as malloc serves large
 * requests: the pages read as zero and cost no resident memory until first written.
 * {@link Arena#allocate} zero-fills what it returns, which writes every page at once, so a tensor
 * that is allocated and never written (the dense weight a quantized source replaces, the
 * untouched tail of a padded block) would still count in full. On systems other than Linux, or if
 * the call fails, blocks come from the arena as before.
 */
final class PageMapping {
    /** Below this, a block comes from the arena: a mapping per small tensor would cost a system call each. */
    static final long THRESHOLD = 1L << 20;

    private static final int PROT_READ = 0x1;
    private static final int PROT_WRITE = 0x2;
    private static final int MAP_PRIVATE = 0x02;
    private static final int MAP_ANONYMOUS = 0x20;
    private static final int MAP_NORESERVE = 0x4000;

    private static final MethodHandle MMAP;
    private static final MethodHandle MUNMAP;

    static {
        MethodHandle mmap = null;
        MethodHandle munmap = null;
        if (System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux")) {
            try {
                Linker linker = Linker.nativeLinker();
                SymbolLookup libc = linker.defaultLookup();
                mmap = linker.downcallHandle(libc.find("mmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS,
                        ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                        ValueLayout.JAVA_LONG));
                munmap = linker.downcallHandle(libc.find("munmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                        ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
            } catch (RuntimeException | LinkageError e) {
                mmap = null; // no native access here: the arena serves every block
                munmap = null;
            }
        }
        MMAP = mmap;
        MUNMAP = munmap;
    }

    private PageMapping() {}

    /**
     * {@code size} zero bytes, page-aligned, unmapped when {@code arena} closes; or null when this
     * system offers no mapping, and the caller allocates from the arena.
     */
    static MemorySegment map(long size, Arena arena) {
        if (MMAP == null || size < THRESHOLD) {
            return null;
        }
        MemorySegment addr;
        try {
            addr = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0L);
        } catch (Throwable e) {
            return null;
        }
        if (addr.address() == -1L || addr.address() == 0L) { // MAP_FAILED: out of address space or a limit; the arena may still serve
            return null;
        }
        // The cleanup sees a zero-length segment at the same address: the size travels in the closure.
        return addr.reinterpret(size, arena, s -> unmap(s, size));
    }

    private static void unmap(MemorySegment s, long size) {
        try {
            int rc = (int) MUNMAP.invokeExact(s, size);
            if (rc != 0) {
                throw new IllegalStateException("munmap of " + size + " bytes failed");
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }
}
