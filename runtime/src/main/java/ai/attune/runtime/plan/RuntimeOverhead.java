package ai.attune.runtime.plan;

/**
 * Memory a training process holds beside its tensors: the JVM's heap, and what it holds outside
 * the heap (code, metaspace, class data, thread stacks, the GC's own tables). Tensors are off the
 * heap, and the heap's live data is small (tens of MiB, the GEMM's packing buffers among them); but
 * G1 grows the heap with the rate of allocation, not with what stays alive, up to -Xmx. So the
 * heap term is measured, and capped by the -Xmx this JVM runs with: the launcher gives training
 * and planning the same flags ({@code ATTUNE_OPTS}).
 *
 * @param nonHeapBytes  resident memory outside the heap
 * @param heapBytes     the heap as G1 grows it during training, at most -Xmx
 */
public record RuntimeOverhead(long nonHeapBytes, long heapBytes) {
    public long bytes() {
        return nonHeapBytes + heapBytes;
    }

    public String describe() {
        return String.format("JVM heap %s (as G1 grows it; -Xmx caps it) + %s outside the heap", ByteSize.format(heapBytes),
                ByteSize.format(nonHeapBytes));
    }

    /** This JVM's overhead: the measured heap growth, capped by its -Xmx. */
    public static RuntimeOverhead ofThisJvm() {
        return new RuntimeOverhead(NON_HEAP, Math.min(HEAP_GROWTH, Runtime.getRuntime().maxMemory()));
    }

    /** Measured, see README "Memory": peak RSS minus the tensor peak of attune bench runs. */
    static final long NON_HEAP = 100L << 20;
    static final long HEAP_GROWTH = 2200L << 20;
}
