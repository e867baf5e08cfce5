package ai.attune.kernels.jvm;

import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.NativeStorage;
import ai.attune.api.tensor.Scope;

import java.lang.foreign.MemorySegment;

/** Off-heap storage of the jvm backend: one native memory segment from its scope's arena. */
record JvmStorage(Backend backend, MemorySegment segment, Scope scope) implements NativeStorage {
}
