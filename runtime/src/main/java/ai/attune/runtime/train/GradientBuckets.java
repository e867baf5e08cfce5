package ai.attune.runtime.train;

import ai.attune.api.dist.ProcessGroup;
import ai.attune.api.nn.Parameter;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Sums the trainable parameters' gradients over the ranks of a data-parallel group, as PyTorch's
 * DistributedDataParallel does: the gradients are laid out in fixed f32 buckets of about
 * {@value #BUCKET_BYTES} bytes (DDP's {@code bucket_cap_mb=25}), in reverse parameter order (the
 * order backward finishes them), and each bucket's all-reduce is started as soon as it is filled,
 * so the transfer of one bucket overlaps the copying of the next. The buckets are allocated once
 * and reused every step: the collective engine is fastest on memory it has seen before. Only the
 * trainable tensors are communicated; a frozen base never is.
 *
 * <p>A parameter without a gradient on this rank (it took no part in its micro-batches) counts as
 * zeros, and receives the sum if another rank's is not zero, so every rank steps the same tensors.
 */
final class GradientBuckets implements AutoCloseable {
    static final long BUCKET_BYTES = 25L << 20;

    /** A parameter's place: which bucket, at which float. */
    private record Slot(Parameter param, int bucket, long offset, long numel) {}

    private final ProcessGroup group;
    private final Arena arena = Arena.ofShared();
    private final List<MemorySegment> buckets = new ArrayList<>();
    private final List<Slot> slots = new ArrayList<>();
    private long communicatedNanos;
    private long waitedNanos;

    GradientBuckets(ProcessGroup group, List<Parameter> trainable) {
        this.group = group;
        long used = 0;
        List<Long> sizes = new ArrayList<>();
        for (int i = trainable.size() - 1; i >= 0; i--) { // backward produces the last parameters' gradients first
            Parameter p = trainable.get(i);
            long n = p.value().numel();
            if (used > 0 && (used + n) * Float.BYTES > BUCKET_BYTES) {
                sizes.add(used);
                used = 0;
            }
            slots.add(new Slot(p, sizes.size(), used, n));
            used += n;
        }
        if (used > 0) {
            sizes.add(used);
        }
        for (long floats : sizes) {
            buckets.add(arena.allocate(floats * Float.BYTES, 64));
        }
    }

    /** Replaces every trainable gradient with its sum over the group's ranks. */
    void allReduce() {
        long t0 = System.nanoTime();
        List<ProcessGroup.Pending> pending = new ArrayList<>();
        int next = 0;
        for (int b = 0; b < buckets.size(); b++) {
            MemorySegment bucket = buckets.get(b);
            for (; next < slots.size() && slots.get(next).bucket() == b; next++) {
                Slot s = slots.get(next);
                MemorySegment part = bucket.asSlice(s.offset() * Float.BYTES, s.numel() * Float.BYTES);
                Tensor g = s.param().grad();
                if (g == null) {
                    part.fill((byte) 0);
                } else {
                    toF32Bytes(g, part);
                }
            }
            pending.add(group.allReduceSum(bucket));
        }
        long w0 = System.nanoTime();
        for (ProcessGroup.Pending p : pending) {
            p.await();
        }
        waitedNanos += System.nanoTime() - w0;
        for (Slot s : slots) {
            MemorySegment part = buckets.get(s.bucket()).asSlice(s.offset() * Float.BYTES, s.numel() * Float.BYTES);
            Tensor g = s.param().grad();
            if (g == null) {
                Tensor v = s.param().value();
                g = v.backend().zeros(v.dtype(), v.shape(), v.storage().scope());
                v.setGrad(g);
            }
            fromF32Bytes(part, g);
        }
        communicatedNanos += System.nanoTime() - t0;
    }

    /** Seconds spent in {@link #allReduce} so far, and of those the seconds spent waiting for the transfers to end. */
    double seconds() {
        return communicatedNanos / 1e9;
    }

    double waitSeconds() {
        return waitedNanos / 1e9;
    }

    /** Floats communicated per step. */
    long floats() {
        return slots.stream().mapToLong(Slot::numel).sum();
    }

    private static void toF32Bytes(Tensor g, MemorySegment dst) {
        if (g.dtype() == DType.F32 && g.isContiguous()) {
            g.backend().copyToBytes(g, dst);
            return;
        }
        try (ai.attune.api.tensor.Scope tmp = ai.attune.api.tensor.Scope.open("grad-f32")) {
            Tensor f32 = g.backend().empty(DType.F32, g.shape(), tmp);
            g.backend().copy(g, f32);
            g.backend().copyToBytes(f32, dst);
        }
    }

    private static void fromF32Bytes(MemorySegment src, Tensor g) {
        if (g.dtype() == DType.F32 && g.isContiguous()) {
            g.backend().copyFromBytes(src, g);
            return;
        }
        try (ai.attune.api.tensor.Scope tmp = ai.attune.api.tensor.Scope.open("grad-f32")) {
            Tensor f32 = g.backend().empty(DType.F32, g.shape(), tmp);
            g.backend().copyFromBytes(src, f32);
            g.backend().copy(f32, g);
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
