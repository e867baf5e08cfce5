package ai.attune.kernels.torch;

import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.NativeStorage;
import ai.attune.api.tensor.Scope;

import java.lang.foreign.MemorySegment;

/**
 * Storage of the libtorch backend: Java-owned native memory from its scope's arena. libtorch never
 * owns it; each kernel views it through {@code at::from_blob} for the duration of one call, so the
 * scope alone decides when it is freed.
 */
record TorchStorage(Backend backend, MemorySegment segment, Scope scope) implements NativeStorage {
}
