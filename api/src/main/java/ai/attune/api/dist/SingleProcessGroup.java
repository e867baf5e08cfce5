package ai.attune.api.dist;

import java.lang.foreign.MemorySegment;

/** {@link ProcessGroup#single()}: every collective over one rank is the identity. */
final class SingleProcessGroup implements ProcessGroup {
    private static final Pending DONE = new Pending() {
        @Override
        public void await() {}

        @Override
        public boolean isDone() {
            return true;
        }
    };

    private boolean closed;

    @Override
    public int rank() {
        return 0;
    }

    @Override
    public int worldSize() {
        return 1;
    }

    @Override
    public Pending allReduceSum(MemorySegment f32Buffer) {
        checkOpen("all-reduce");
        if (!f32Buffer.isNative()) {
            throw new IllegalArgumentException("all-reduce: the buffer must be native memory, not a heap segment");
        }
        if (f32Buffer.byteSize() % Float.BYTES != 0) {
            throw new IllegalArgumentException("all-reduce: an f32 buffer of " + f32Buffer.byteSize() + " bytes: not a multiple of 4");
        }
        return DONE;
    }

    @Override
    public void allReduceSum(double[] values) {
        checkOpen("all-reduce");
    }

    @Override
    public void broadcast(MemorySegment bytes, int root) {
        checkOpen("broadcast");
        if (!bytes.isNative()) {
            throw new IllegalArgumentException("broadcast: the buffer must be native memory, not a heap segment");
        }
        if (root != 0) {
            throw new IllegalArgumentException("broadcast: root " + root + " is not a rank of a group of 1");
        }
    }

    @Override
    public void barrier() {
        checkOpen("barrier");
    }

    @Override
    public void close() {
        closed = true;
    }

    private void checkOpen(String op) {
        if (closed) {
            throw new IllegalStateException(op + " on a closed process group");
        }
    }

    @Override
    public String toString() {
        return "ProcessGroup[rank 0 of 1]";
    }
}
