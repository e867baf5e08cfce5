package ai.attune.runtime.plan;

/**
 * Memory a training process holds beside its tensors: the JVM (heap, code, metaspace, thread
 * stacks) and the GEMM's packing buffers, one per worker thread. Not a tensor-service number: it
 * is measured, as the peak RSS of a run whose tensors are negligible.
 *
 * @param jvmBytes       the process's peak RSS minus its tensor peak on a tiny model
 * @param threads        GEMM worker threads (one per core)
 * @param workspaceBytes packing buffers of one GEMM worker (kernels-jvm Gemm: about 4.4 MiB)
 */
public record RuntimeOverhead(long jvmBytes, int threads, long workspaceBytes) {
    /** kernels-jvm's Gemm Workspace: packed A and B panels, a C tile and staging rows. */
    public static final long GEMM_WORKSPACE = 4_613_734;

    public long bytes() {
        return jvmBytes + threads * workspaceBytes;
    }

    public String describe() {
        return String.format("JVM %s + GEMM workspaces %d x %s", ByteSize.format(jvmBytes), threads, ByteSize.format(workspaceBytes));
    }
}
