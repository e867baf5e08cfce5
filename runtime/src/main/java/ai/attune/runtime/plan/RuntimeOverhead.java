package ai.attune.runtime.plan;

/**
 * Memory a training process holds beside its tensors: the JVM's heap, and what it holds outside
 * the heap (code, metaspace, class data, thread stacks, the GC's tables). Tensors are off the heap,
 * and the heap's live data is small (tens of MiB, the GEMM's 4.4 MiB packing buffer per thread
 * among them); but G1 grows the heap with the rate of allocation, not with what stays alive, so
 * the heap term is measured, not counted: runs with a capped heap fill about three quarters of it,
 * and uncapped ones (a quarter of RAM by default) grew to 1.7-3.2 GB here, run to run. The cap is
 * this JVM's -Xmx, since the launcher gives planning and training the same flags ({@code ATTUNE_OPTS}).
 *
 * @param nonHeapBytes resident memory outside the heap
 * @param heapBytes    the heap as G1 grows it during training
 */
public record RuntimeOverhead(long nonHeapBytes, long heapBytes) {
    /** Measured (README "Memory"): peak RSS minus the tensor peak of attune bench runs. */
    static final long NON_HEAP = 100L << 20;
    /** The share of a capped heap that G1 touched in training runs (0.68 to 0.8 at -Xmx1g and -Xmx512m). */
    static final double HEAP_FILL = 0.75;
    /** What an uncapped heap grew to, typically (1.7 to 3.2 GB over ten runs on a 24 GiB, 2-core machine). */
    static final long HEAP_GROWTH = 2200L << 20;

    public long bytes() {
        return nonHeapBytes + heapBytes;
    }

    public String describe() {
        return String.format("JVM: heap %s as G1 grows it (capped by -Xmx), %s outside the heap", ByteSize.format(heapBytes),
                ByteSize.format(nonHeapBytes));
    }

    /** This JVM's overhead for a heap capped at {@code maxHeap} bytes. */
    public static RuntimeOverhead forMaxHeap(long maxHeap) {
        return new RuntimeOverhead(NON_HEAP, Math.min(HEAP_GROWTH, (long) (HEAP_FILL * maxHeap)));
    }

    /** This JVM's overhead, for its own -Xmx. */
    public static RuntimeOverhead ofThisJvm() {
        return forMaxHeap(Runtime.getRuntime().maxMemory());
    }
}
