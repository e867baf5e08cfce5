package ai.attune.runtime.text;

import ai.attune.api.model.ModelLoadException;
import com.fasterxml.jackson.databind.JsonNode;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;

/**
 * What the tokenizers library (Rust, through DJL) cannot be handed. Its deserializers first read
 * each component as a generic JSON value and {@code expect} that to succeed, so a value serde_json
 * refuses there (a number beyond f64 such as 1e400, half a surrogate pair, or nesting past its
 * recursion limit of 128) is a Rust panic, as is a BPE merge its builder slices out of bounds; a
 * panic across the native boundary aborts the whole JVM. Such a file is refused here, in Java,
 * with the key that holds the value.
 */
final class NativeJsonLimits {
    /** Real tokenizer.json files nest about six levels; serde_json gives up at 128. */
    static final int MAX_DEPTH = 64;

    private NativeJsonLimits() {}

    static void check(Path file, JsonNode root) throws ModelLoadException {
        record At(JsonNode node, String path, int depth) {}
        Deque<At> todo = new ArrayDeque<>();
        todo.push(new At(root, "", 0));
        while (!todo.isEmpty()) {
            At at = todo.pop();
            JsonNode n = at.node();
            if (n.isFloatingPointNumber() && !Double.isFinite(n.doubleValue())) {
                throw new ModelLoadException(file, "key '" + at.path() + "' holds " + n.asText()
                        + ", a number beyond what the tokenizers library reads");
            }
            if (n.isTextual() && hasLoneSurrogate(n.textValue())) {
                throw new ModelLoadException(file, "key '" + at.path() + "' holds a string with half a UTF-16 surrogate pair,"
                        + " which the tokenizers library cannot read");
            }
            if (n.isContainerNode() && at.depth() >= MAX_DEPTH) {
                throw new ModelLoadException(file, "key '" + at.path() + "' nests deeper than " + MAX_DEPTH
                        + " levels, more than the tokenizers library reads");
            }
            if (n.isObject()) {
                for (Map.Entry<String, JsonNode> e : n.properties()) {
                    if (hasLoneSurrogate(e.getKey())) {
                        throw new ModelLoadException(file, "a key in '" + at.path() + "' has half a UTF-16 surrogate pair,"
                                + " which the tokenizers library cannot read");
                    }
                    todo.push(new At(e.getValue(), at.path().isEmpty() ? e.getKey() : at.path() + "." + e.getKey(), at.depth() + 1));
                }
            } else if (n.isArray()) {
                for (int i = 0; i < n.size(); i++) {
                    todo.push(new At(n.get(i), at.path() + "[" + i + "]", at.depth() + 1));
                }
            }
        }
    }

    /**
     * BPE's builder cuts {@code continuing_subword_prefix} off the second part of every merge by
     * byte offset, so a second part shorter than the prefix (or cut inside a character) panics.
     */
    static void checkMerges(Path file, JsonNode root) throws ModelLoadException {
        JsonNode model = root.path("model");
        JsonNode prefix = model.path("continuing_subword_prefix");
        if (!prefix.isTextual() || prefix.textValue().isEmpty()) {
            return;
        }
        int cut = prefix.textValue().getBytes(StandardCharsets.UTF_8).length;
        JsonNode merges = model.path("merges");
        for (int i = 0; i < merges.size(); i++) {
            JsonNode m = merges.get(i);
            String second = m.isTextual() ? secondPart(m.textValue()) : m.isArray() && m.size() == 2 ? m.get(1).asText() : null;
            if (second == null) {
                continue; // not a pair: the library refuses it by itself
            }
            byte[] b = second.getBytes(StandardCharsets.UTF_8);
            if (b.length < cut || b.length > cut && (b[cut] & 0xC0) == 0x80) {
                throw new ModelLoadException(file, "model.merges[" + i + "] does not continue with continuing_subword_prefix "
                        + prefix + ", which the tokenizers library cannot read");
            }
        }
    }

    private static String secondPart(String merge) {
        String[] parts = merge.split(" ", -1);
        return parts.length == 2 ? parts[1] : null;
    }

    /** A "\\ud800" escape without its partner: Jackson keeps it, serde_json refuses it. */
    private static boolean hasLoneSurrogate(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && (i + 1 == s.length() || !Character.isLowSurrogate(s.charAt(++i)))) {
                return true;
            }
            if (Character.isLowSurrogate(c)) {
                return true;
            }
        }
        return false;
    }
}
