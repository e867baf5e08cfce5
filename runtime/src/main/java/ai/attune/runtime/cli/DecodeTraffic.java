package ai.attune.runtime.cli;

import ai.attune.api.nn.Embedding;
import ai.attune.api.nn.LinearLayer;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;

/**
 * The bytes of weights that decoding one token streams from memory. A single position's forward
 * pass reads every Linear's weight (as stored: 4 bits and their scales for a quantized base) and
 * bias, every norm, the LM head (the embedding matrix itself when tied) and any adapter, each once
 * and whole, so at batch 1 decoding is bound by these bytes over the memory bandwidth. An
 * embedding table is only gathered, one row per token, and counts only where it is also the LM
 * head. The KV cache the attention reads is not counted: it grows with the position.
 */
final class DecodeTraffic {
    private DecodeTraffic() {}

    /** Weight bytes read per decoded token; a parameter shared by two modules (a tied head) counts once. */
    static long weightBytesPerToken(Module root) {
        Set<Parameter> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        long bytes = 0;
        for (Module m : root.namedModules().values()) {
            if (m instanceof Embedding) {
                continue;
            }
            if (m instanceof LinearLayer l && l.weightSource() != null) {
                bytes += l.weightSource().storedBytes(); // the dense weight is no parameter of the layer then
            }
            for (Parameter p : m.ownParameters().values()) {
                if (seen.add(p)) {
                    bytes += p.value().numel() * p.value().dtype().byteSize();
                }
            }
        }
        return bytes;
    }
}
