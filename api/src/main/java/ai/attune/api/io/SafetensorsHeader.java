package ai.attune.api.io;

import ai.attune.api.tensor.DType;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The parsed and validated header of one safetensors file.
 *
 * <p>Validation follows the reference Rust reader: once {@link #read} returns, every tensor's byte
 * range lies inside the data buffer, matches its shape and dtype, and the ranges tile the buffer
 * exactly, so a reader never has to re-check them.
 *
 * @param dataStart absolute file offset of the data buffer, {@code 8 + N}
 * @param fileSize  the file's size when validated: the data buffer ends there
 * @param tensors   entries in header order
 * @param metadata  the {@code __metadata__} object, empty when absent
 */
record SafetensorsHeader(long dataStart, long fileSize, Map<String, TensorInfo> tensors, Map<String, String> metadata) {

    /** The reference implementation's limit; it bounds the memory one hostile header can cost. */
    static final long MAX_HEADER_SIZE = 100_000_000L;

    static final String METADATA_KEY = "__metadata__";

    private static final Set<String> ENTRY_KEYS = Set.of("dtype", "shape", "data_offsets");

    /**
     * Reads and validates the header of {@code file} through {@code channel}. The header is read
     * with plain reads, not through a mapping, so a file is only mapped once it is known to be good.
     */
    static SafetensorsHeader read(Path file, FileChannel channel) throws IOException {
        long fileSize = channel.size();
        if (fileSize < 8) {
            throw new SafetensorsException(file,
                    "file is " + fileSize + " bytes, too short for the 8-byte header length");
        }
        long n = readFully(file, channel, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        // n is an unsigned u64: a negative long is a length above 2^63.
        if (n < 0 || n > MAX_HEADER_SIZE) {
            throw new SafetensorsException(file, "header length " + Long.toUnsignedString(n)
                    + " exceeds the limit of " + MAX_HEADER_SIZE + " bytes");
        }
        if (n > fileSize - 8) {
            throw new SafetensorsException(file, "header length " + n
                    + " runs past the end of the file (" + fileSize + " bytes)");
        }
        return parse(file, readFully(file, channel, 8, (int) n).array(), fileSize);
    }

    private static ByteBuffer readFully(Path file, FileChannel channel, long position, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        while (buffer.hasRemaining()) {
            int read = channel.read(buffer, position + buffer.position());
            if (read < 0) {
                // Only if the file shrank since size() was taken.
                throw new SafetensorsException(file, "file shrank while its header was read");
            }
        }
        return buffer.flip();
    }

    /** Validates {@code header}, the JSON of a file of {@code fileSize} bytes. */
    private static SafetensorsHeader parse(Path file, byte[] header, long fileSize) throws SafetensorsException {
        ObjectNode root = parseJson(file, header);
        long dataStart = 8L + header.length;
        long bufferSize = fileSize - dataStart;

        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = Map.of();
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            if (e.getKey().equals(METADATA_KEY)) {
                metadata = parseMetadata(file, e.getValue());
            } else {
                tensors.put(e.getKey(), parseEntry(file, e.getKey(), e.getValue()));
            }
        }
        checkTiling(file, tensors.values(), bufferSize);
        return new SafetensorsHeader(dataStart, fileSize, Collections.unmodifiableMap(tensors), metadata);
    }

    private static ObjectNode parseJson(Path file, byte[] header) throws SafetensorsException {
        String text;
        try {
            text = Json.decodeUtf8(header);
        } catch (CharacterCodingException e) {
            throw new SafetensorsException(file, "header is not valid UTF-8", e);
        }
        JsonNode root;
        try {
            root = Json.READER.readTree(text);
        } catch (JacksonException e) {
            throw new SafetensorsException(file, "header is not valid JSON: " + Json.describe(e), e);
        }
        if (!(root instanceof ObjectNode object)) {
            throw new SafetensorsException(file, "header is not a JSON object");
        }
        return object;
    }

    private static Map<String, String> parseMetadata(Path file, JsonNode node) throws SafetensorsException {
        if (node.isNull()) {
            return Map.of(); // serde reads a null Option as "no metadata"
        }
        if (!node.isObject()) {
            throw new SafetensorsException(file, METADATA_KEY + " is not a JSON object of strings but "
                    + Names.snippet(node));
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!e.getValue().isTextual()) {
                throw new SafetensorsException(file, METADATA_KEY + " value of key " + Names.quote(e.getKey())
                        + " is not a string but " + Names.snippet(e.getValue()));
            }
            metadata.put(e.getKey(), e.getValue().textValue());
        }
        return Collections.unmodifiableMap(metadata);
    }

    private static TensorInfo parseEntry(Path file, String name, JsonNode node) throws SafetensorsException {
        String tensor = "tensor " + Names.quote(name) + ": ";
        if (!node.isObject()) {
            throw new SafetensorsException(file, tensor + "entry is not a JSON object but " + Names.snippet(node));
        }
        Set<String> keys = new LinkedHashSet<>();
        node.properties().forEach(e -> keys.add(e.getKey()));
        // Extra keys are ignored, as the reference reader does, so files other tools accept load here too.
        if (!keys.containsAll(ENTRY_KEYS)) {
            throw new SafetensorsException(file, tensor + "needs the keys dtype, shape, data_offsets but found "
                    + Names.snippet(keys));
        }
        JsonNode dtypeNode = node.get("dtype");
        DType dtype = dtypeNode.isTextual() ? DType.fromSafetensorsName(dtypeNode.textValue()) : null;
        if (dtype == null) {
            throw new SafetensorsException(file, tensor + "unknown dtype " + Names.snippet(dtypeNode));
        }
        long[] shape = naturals(node.get("shape"), -1);
        if (shape == null) {
            throw new SafetensorsException(file, tensor + "shape must be an array of non-negative integers, found "
                    + Names.snippet(node.get("shape")));
        }
        long[] offsets = naturals(node.get("data_offsets"), 2);
        if (offsets == null) {
            throw new SafetensorsException(file, tensor + "data_offsets must be two non-negative integers, found "
                    + Names.snippet(node.get("data_offsets")));
        }
        long begin = offsets[0];
        long end = offsets[1];
        if (begin > end) {
            throw new SafetensorsException(file, tensor + "data_offsets [" + begin + ", " + end + "] end before they begin");
        }
        long expected;
        try {
            expected = dtype.byteSize();
            for (long d : shape) {
                expected = Math.multiplyExact(expected, d);
            }
        } catch (ArithmeticException e) {
            throw new SafetensorsException(file, tensor + "shape " + Names.shape(shape) + " of " + dtype
                    + " overflows a 64-bit byte count");
        }
        if (end - begin != expected) {
            throw new SafetensorsException(file, tensor + "data_offsets [" + begin + ", " + end + "] do not match shape "
                    + Names.shape(shape) + " of " + dtype + " (" + expected + " bytes)");
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    /** The node as an array of non-negative longs (of {@code length} items unless -1), else null. */
    private static long[] naturals(JsonNode node, int length) {
        if (!node.isArray() || (length >= 0 && node.size() != length)) {
            return null;
        }
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode item = node.get(i);
            // Floats such as 2.0 are refused, as serde refuses them for usize.
            if (!item.isIntegralNumber() || !item.canConvertToLong() || item.longValue() < 0) {
                return null;
            }
            out[i] = item.longValue();
        }
        return out;
    }

    /**
     * The byte ranges, in file order, must cover the data buffer exactly: no byte belongs to two
     * tensors, no byte to none. Holes are refused too, as the reference does, because they are
     * either corruption or a place to hide data.
     */
    private static void checkTiling(Path file, Iterable<TensorInfo> tensors, long bufferSize)
            throws SafetensorsException {
        List<TensorInfo> sorted = new ArrayList<>();
        tensors.forEach(sorted::add);
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long covered = 0;
        TensorInfo previous = null;
        for (TensorInfo t : sorted) {
            String range = "data_offsets [" + t.begin() + ", " + t.end() + "]";
            if (t.end() > bufferSize) {
                throw new SafetensorsException(file, "tensor " + Names.quote(t.name()) + ": " + range
                        + " extend past the data buffer (" + bufferSize + " bytes)");
            }
            if (t.begin() < covered) {
                throw new SafetensorsException(file, "tensor " + Names.quote(t.name()) + ": " + range
                        + " overlap tensor " + Names.quote(previous.name())
                        + " [" + previous.begin() + ", " + previous.end() + "]");
            }
            if (t.begin() > covered) {
                throw new SafetensorsException(file, "data buffer bytes [" + covered + ", " + t.begin()
                        + ") before tensor " + Names.quote(t.name()) + " belong to no tensor");
            }
            covered = t.end();
            previous = t;
        }
        if (covered != bufferSize) {
            throw new SafetensorsException(file, "data buffer has " + bufferSize
                    + " bytes but the tensors cover only the first " + covered);
        }
    }
}
