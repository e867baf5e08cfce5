package ai.attune.runtime.plan;

/**
 * Memory a training process holds beside its tensors: the JVM's heap, and what it holds outside
 * the heap (code, metaspace, class data, thread stacks, the GC's tables). Tensors are off the heap,
 * and the heap's live data is small (tens of MiB, the GEMM's 4.4 MiB packing buffer per thread
 * among them); but G1 sizes the heap by the rate of allocation, not by what stays alive, so the
 * heap term is measured, not counted: in idle training runs of the 110M Llama it took 330-470
 * MiB under -Xmx1g (a third to a half of the cap) and 460-770 MiB under the default cap, a
 * quarter of RAM. The cap is this JVM's -Xmx, since the launcher gives planning and training the same flags
 * ({@code ATTUNE_OPTS}).
 *
 * @param nonHeapBytes resident memory outside the heap
 * @param heapBytes    the heap as G1 grows it during training
 */
public record RuntimeOverhead(long nonHeapBytes, long heapBytes) {
    /** Measured (README "Memory"): peak RSS minus the tensor peak of attune bench runs. */
    static final long NON_HEAP = 100L << 20;
    /** The share of a capped heap that G1 took in training runs (README "Memory planning": 0.32 to 0.46 at -Xmx1g). */
    static final double HEAP_FILL = 0.4;
    /** What the heap grew to under the default cap in idle 110M training runs (README "Memory planning": 460 to 770 MiB). */
    static final long HEAP_GROWTH = 650L << 20;

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
