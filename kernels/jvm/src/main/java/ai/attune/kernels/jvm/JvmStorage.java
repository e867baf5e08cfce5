package ai.attune.kernels.jvm;

import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Storage;

import java.lang.foreign.MemorySegment;

/** Off-heap storage of the jvm backend: one native memory segment from its scope's arena. */
record JvmStorage(Backend backend, MemorySegment segment, Scope scope) implements Storage {
    @Override
    public long byteSize() {
        return segment.byteSize();
    }
}
