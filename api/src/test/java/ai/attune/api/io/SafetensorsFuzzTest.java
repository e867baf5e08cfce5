package ai.attune.api.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ai.attune.api.tensor.DType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Random corruption of a valid file: every open either fails with a {@link SafetensorsException}
 * naming the file, or succeeds with slices that are inside the file and match their shapes.
 */
class SafetensorsFuzzTest {

    private static final int ROUNDS = 3000;
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

    @TempDir
    Path dir;

    private final ObjectMapper mapper = new ObjectMapper();

    @Test
    void mutatedFilesNeverEscapeTheFormatErrors() throws Exception {
        byte[] valid = validFile();
        Path p = dir.resolve("fuzz.safetensors");
        Random random = new Random(20240607L);
        int opened = 0;
        int refused = 0;
        for (int round = 0; round < ROUNDS; round++) {
            byte[] mutated = valid;
            int mutations = 1 + random.nextInt(3);
            for (int m = 0; m < mutations; m++) {
                mutated = mutate(mutated, random);
            }
            Files.write(p, mutated);
            try (SafetensorsFile f = SafetensorsFile.open(p)) {
                checkConsistent(f, mutated.length);
                opened++;
            } catch (SafetensorsException e) {
                assertTrue(e.getMessage().startsWith("fuzz.safetensors: "), e.getMessage());
                assertTrue(!e.getMessage().contains("\n"), e.getMessage());
                refused++;
            } catch (Throwable t) {
                fail("round " + round + ": " + t + " for header " + headerPreview(mutated), t);
            }
        }
        // Both outcomes must be exercised, or the mutations are too weak (or too strong) to mean much.
        assertTrue(opened > ROUNDS / 50, "opened " + opened);
        assertTrue(refused > ROUNDS / 2, "refused " + refused);
    }

    private byte[] validFile() throws Exception {
        Path p = dir.resolve("valid.safetensors");
        new SafetensorsWriter()
                .add("embed", DType.F32, new long[] {2, 3}, Bytes.seg(Bytes.f32(1, 2, 3, 4, 5, 6)))
                .add("ids", DType.I64, new long[] {2}, Bytes.seg(Bytes.concat(Bytes.le64(5), Bytes.le64(9))))
                .add("mask", DType.BOOL, new long[] {3}, Bytes.seg(new byte[] {1, 0, 1}))
                .add("half", DType.BF16, new long[] {2}, Bytes.seg(new byte[] {0, 0x3f, 0, 0x40}))
                .add("none", DType.F16, new long[] {0, 4}, Bytes.seg(new byte[0]))
                .add("scalar", DType.I32, new long[] {}, Bytes.seg(Bytes.i32(11)))
                .putMetadata("format", "pt")
                .write(p);
        return Files.readAllBytes(p);
    }

    private static void checkConsistent(SafetensorsFile f, long fileSize) {
        long total = 0;
        for (String name : f.names()) {
            TensorInfo info = f.info(name);
            long expected = info.dtype().byteSize();
            for (long d : info.shape()) {
                expected = Math.multiplyExact(expected, d);
            }
            MemorySegment data = f.data(name);
            assertEquals(expected, data.byteSize(), name);
            assertEquals(expected, info.end() - info.begin(), name);
            assertTrue(info.begin() >= 0 && f.dataStart() + info.end() <= fileSize, name);
            long sum = 0;
            for (long i = 0; i < data.byteSize(); i++) {
                sum += data.get(ValueLayout.JAVA_BYTE, i); // touch every byte: must not fault
            }
            assertTrue(sum != Long.MIN_VALUE);
            total += expected;
        }
        assertEquals(fileSize - f.dataStart(), total, "tensors must tile the data buffer");
    }

    private byte[] mutate(byte[] file, Random r) throws Exception {
        int headerEnd = (int) Math.min(file.length, 8 + Math.max(0, Math.min(headerLength(file), file.length)));
        byte[] out = file.clone();
        switch (r.nextInt(9)) {
            case 0 -> { // flip a bit in the length or header
                int i = r.nextInt(Math.max(1, headerEnd));
                if (i < out.length) {
                    out[i] ^= (byte) (1 << r.nextInt(8));
                }
            }
            case 1 -> { // overwrite a header byte with JSON punctuation, a digit or anything
                int i = r.nextInt(Math.max(1, headerEnd));
                byte[] menu = "{}[],:\"-0123456789e. \\".getBytes(StandardCharsets.US_ASCII);
                if (i < out.length) {
                    out[i] = r.nextBoolean() ? menu[r.nextInt(menu.length)] : (byte) r.nextInt(256);
                }
            }
            case 2 -> out = Arrays.copyOf(file, r.nextInt(file.length + 1)); // truncate
            case 3 -> { // a hostile header length
                long[] lengths = {0, 1, 7, headerLength(file) - 1, headerLength(file) + 1, file.length - 8,
                        file.length, 100_000_000, 100_000_001, Long.MAX_VALUE, -1, r.nextLong()};
                if (out.length >= 8) {
                    System.arraycopy(Bytes.le64(lengths[r.nextInt(lengths.length)]), 0, out, 0, 8);
                }
            }
            case 4 -> out = Bytes.concat(file, new byte[1 + r.nextInt(16)]); // extra data bytes
            case 5, 6, 7 -> out = rewriteJson(file, r);
            default -> { // splice random bytes into the data region: must always still open
                if (file.length > headerEnd) {
                    out[headerEnd + r.nextInt(file.length - headerEnd)] = (byte) r.nextInt(256);
                }
            }
        }
        return out;
    }

    /** Parses the header (if it still parses), rewrites one field of one tensor, re-frames the file. */
    private byte[] rewriteJson(byte[] file, Random r) throws Exception {
        long n = headerLength(file);
        if (n < 2 || n > file.length - 8) {
            return file;
        }
        ObjectNode root;
        try {
            root = (ObjectNode) mapper.readTree(new String(file, 8, (int) n, StandardCharsets.UTF_8));
        } catch (Exception notJsonAnymore) {
            return file;
        }
        List<String> names = new ArrayList<>();
        root.fieldNames().forEachRemaining(names::add);
        String name = names.get(r.nextInt(names.size()));
        if (!(root.get(name) instanceof ObjectNode entry)) {
            return file;
        }
        switch (r.nextInt(7)) {
            case 0 -> entry.set("data_offsets", pair(randomNumber(r, file.length), randomNumber(r, file.length)));
            case 1 -> { // move the range, keeping its length, onto or near another tensor's
                JsonNode mine = entry.get("data_offsets");
                JsonNode other = root.get(names.get(r.nextInt(names.size()))).get("data_offsets");
                if (mine != null && mine.size() == 2 && other != null && other.size() == 2) {
                    long length = mine.get(1).asLong() - mine.get(0).asLong();
                    long b = Math.max(0, other.get(0).asLong() + r.nextInt(9) - 4);
                    entry.set("data_offsets", pair(JSON.numberNode(b), JSON.numberNode(b + length)));
                }
            }
            case 2 -> {
                ArrayNode shape = JSON.arrayNode();
                int rank = r.nextInt(4);
                for (int i = 0; i < rank; i++) {
                    shape.add(randomNumber(r, 64));
                }
                entry.set("shape", shape);
            }
            case 3 -> {
                String[] dtypes = {"F32", "F64", "BF16", "F16", "I64", "I32", "U8", "BOOL", "I8", "F8_E4M3", "", "f32"};
                entry.put("dtype", dtypes[r.nextInt(dtypes.length)]);
            }
            case 4 -> { // wrong JSON types
                String field = List.of("dtype", "shape", "data_offsets").get(r.nextInt(3));
                JsonNode[] wrong = {JSON.nullNode(), JSON.numberNode(3), JSON.textNode("[0,4]"), JSON.arrayNode(),
                        JSON.objectNode(), pair(JSON.numberNode(0), JSON.numberNode(4)).add(8), JSON.booleanNode(true)};
                entry.set(field, wrong[r.nextInt(wrong.length)]);
            }
            case 5 -> { // remove or add a key
                if (r.nextBoolean()) {
                    entry.remove(List.of("dtype", "shape", "data_offsets").get(r.nextInt(3)));
                } else {
                    entry.put("extra", 1);
                }
            }
            default -> { // swap the offsets of two tensors: sometimes still valid
                JsonNode other = root.get(names.get(r.nextInt(names.size())));
                if (other instanceof ObjectNode o && o.has("data_offsets") && entry.has("data_offsets")) {
                    JsonNode mine = entry.get("data_offsets");
                    entry.set("data_offsets", o.get("data_offsets"));
                    o.set("data_offsets", mine);
                }
            }
        }
        byte[] json = mapper.writeValueAsBytes(root);
        byte[] header = Arrays.copyOf(json, json.length + r.nextInt(9));
        Arrays.fill(header, json.length, header.length, (byte) ' ');
        byte[] data = Arrays.copyOfRange(file, (int) (8 + n), file.length);
        // Usually frame it correctly, so the tensor rules are what gets tested; sometimes not.
        long length = r.nextInt(10) == 0 ? n : header.length;
        return Bytes.concat(Bytes.le64(length), header, data);
    }

    private static ArrayNode pair(JsonNode a, JsonNode b) {
        return JSON.arrayNode().add(a).add(b);
    }

    /** Small, negative, huge, beyond-long and fractional values. */
    private static JsonNode randomNumber(Random r, int scale) {
        return switch (r.nextInt(8)) {
            case 0 -> JSON.numberNode(-1 - r.nextInt(100));
            case 1 -> JSON.numberNode(Long.MAX_VALUE - r.nextInt(3));
            case 2 -> JSON.numberNode(BigInteger.ONE.shiftLeft(64).add(BigInteger.valueOf(r.nextInt(10))));
            case 3 -> JSON.numberNode(1L << (32 + r.nextInt(31)));
            case 4 -> JSON.numberNode(r.nextInt(scale) + 0.5);
            default -> JSON.numberNode(r.nextInt(scale + 1));
        };
    }

    private static long headerLength(byte[] file) {
        if (file.length < 8) {
            return -1;
        }
        return ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    private static String headerPreview(byte[] file) {
        int end = (int) Math.min(file.length, 8 + 300L);
        return new String(file, Math.min(8, file.length), Math.max(0, end - 8), StandardCharsets.UTF_8);
    }
}
