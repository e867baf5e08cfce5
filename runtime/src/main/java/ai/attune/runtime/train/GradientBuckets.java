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
 * <p>During the step's last backward ({@link #during}) a bucket is filled and its all-reduce
 * started as soon as backward has completed every gradient in it and in the buckets before it, so
 * the transfers overlap the rest of backward; buckets always start in the same order on every
 * rank, as the collectives require. What backward did not announce (gradients accumulated inside a
 * checkpointed block's own backward) is filled and started when backward returns.
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
    private final java.util.Map<Tensor, Integer> slotOf = new java.util.IdentityHashMap<>();
    private final boolean[] filled;
    private final int[] unfilled; // per bucket
    private final List<ProcessGroup.Pending> pending = new ArrayList<>();
    private long communicatedNanos;
    private long waitedNanos;
    private long overlappedBuckets;
    private boolean announced;
    private final List<Long> launchedAt = new ArrayList<>();
    private long overlapNanos;
    private long allBuckets;

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
        for (int i = 0; i < slots.size(); i++) {
            slotOf.put(slots.get(i).param().value(), i);
        }
        filled = new boolean[slots.size()];
        unfilled = new int[buckets.size()];
    }

    /** Announces completed gradients to the buckets while {@code backward} runs, starting their all-reduces as they fill. */
    void during(Runnable backward) {
        reset();
        announced = true;
        try (var hook = ai.attune.api.autograd.Autograd.onLeafGradient(this::ready)) {
            backward.run();
        }
        long end = System.nanoTime();
        for (long started : launchedAt) {
            overlapNanos += end - started; // this bucket's transfer had backward's remaining time to run in
        }
    }

    private void reset() {
        java.util.Arrays.fill(filled, false);
        java.util.Arrays.fill(unfilled, 0);
        for (Slot s : slots) {
            unfilled[s.bucket()]++;
        }
        pending.clear();
        launchedAt.clear();
    }

    private void ready(Tensor leaf) {
        Integer i = slotOf.get(leaf);
        if (i == null || filled[i]) {
            return;
        }
        fill(i);
        long t0 = System.nanoTime();
        while (pending.size() < buckets.size() && unfilled[pending.size()] == 0) { // in bucket order: every rank starts them alike
            pending.add(group.allReduceSum(buckets.get(pending.size())));
            launchedAt.add(System.nanoTime());
            overlappedBuckets++;
        }
        communicatedNanos += System.nanoTime() - t0;
    }

    private void fill(int i) {
        Slot s = slots.get(i);
        MemorySegment part = buckets.get(s.bucket()).asSlice(s.offset() * Float.BYTES, s.numel() * Float.BYTES);
        Tensor g = s.param().grad();
        if (g == null) {
            part.fill((byte) 0);
        } else {
            toF32Bytes(g, part);
        }
        filled[i] = true;
        unfilled[s.bucket()]--;
    }

    /**
     * Replaces every trainable gradient with its sum over the group's ranks: fills and starts the
     * buckets backward left, waits for all, and copies the sums back.
     */
    void allReduce() {
        long t0 = System.nanoTime();
        if (!announced) {
            reset(); // this step's backward ran without during(): nothing is filled yet
        }
        announced = false;
        for (int i = 0; i < slots.size(); i++) {
            if (!filled[i]) {
                fill(i);
            }
        }
        while (pending.size() < buckets.size()) {
            pending.add(group.allReduceSum(buckets.get(pending.size())));
        }
        allBuckets += buckets.size();
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

    /** Summed over the buckets started during backward: the seconds of backward still ahead when each started. */
    double overlapSeconds() {
        return overlapNanos / 1e9;
    }

    /** Of the buckets all-reduced so far, the share started while backward was still running. */
    double overlappedShare() {
        return allBuckets == 0 ? 0 : (double) overlappedBuckets / allBuckets;
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
