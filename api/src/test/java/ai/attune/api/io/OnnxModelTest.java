package ai.attune.api.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ai.attune.api.tensor.DType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ONNX reader against files built here byte by byte with {@link Proto}, a protobuf writer that
 * shares no code with the reader: every data encoding the reader claims to support, fields it must
 * skip, and truncated or randomly corrupted files, which must fail with a one-line IOException
 * naming the file and nothing else.
 */
class OnnxModelTest {

    @TempDir
    Path dir;

    /** A minimal protobuf wire-format writer for tests. */
    static final class Proto {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        private void rawVarint(long v) {
            while ((v & ~0x7fL) != 0) {
                out.write((int) ((v & 0x7f) | 0x80));
                v >>>= 7;
            }
            out.write((int) v);
        }

        private void key(int field, int wireType) {
            rawVarint(((long) field << 3) | wireType);
        }

        Proto varint(int field, long v) {
            key(field, 0);
            rawVarint(v);
            return this;
        }

        Proto fixed32(int field, int bits) {
            key(field, 5);
            out.writeBytes(Bytes.i32(bits));
            return this;
        }

        Proto fixed64(int field, long bits) {
            key(field, 1);
            out.writeBytes(Bytes.le64(bits));
            return this;
        }

        Proto bytes(int field, byte[] b) {
            key(field, 2);
            rawVarint(b.length);
            out.writeBytes(b);
            return this;
        }

        Proto string(int field, String s) {
            return bytes(field, s.getBytes(StandardCharsets.UTF_8));
        }

        Proto message(int field, Proto m) {
            return bytes(field, m.toBytes());
        }

        /** A packed repeated varint field. */
        Proto packedVarints(int field, long... values) {
            Proto run = new Proto();
            for (long v : values) {
                run.rawVarint(v);
            }
            return bytes(field, run.toBytes());
        }

        byte[] toBytes() {
            return out.toByteArray();
        }

        /** A TensorProto with dims (packed) and raw_data. */
        static Proto tensor(String name, int dataType, long[] dims, byte[] raw) {
            return new Proto().packedVarints(1, dims).varint(2, dataType).string(8, name).bytes(9, raw);
        }

        /** A FLOAT tensor of {@code values} in raw_data. */
        static Proto floats(String name, long[] dims, float... values) {
            return tensor(name, 1, dims, Bytes.f32(values));
        }

        static Proto node(String name, String op, List<String> inputs, List<String> outputs) {
            Proto n = new Proto();
            inputs.forEach(i -> n.string(1, i));
            outputs.forEach(o -> n.string(2, o));
            return n.string(3, name).string(4, op);
        }

        /** A ModelProto around a GraphProto with these nodes and initializers. */
        static byte[] model(List<Proto> nodes, List<Proto> initializers) {
            Proto g = new Proto().string(2, "torch_jit");
            nodes.forEach(n -> g.message(1, n));
            initializers.forEach(i -> g.message(5, i));
            return new Proto().varint(1, 8).string(2, "pytorch").message(7, g)
                    .message(8, new Proto().string(1, "").varint(2, 14)).toBytes(); // opset_import after the graph
        }
    }

    private Path write(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    private byte[] richModel() {
        Proto rawF32 = Proto.floats("embeddings.word_embeddings.weight", new long[] {2, 3}, 1, 2, 3, 4, 5, -6.5f);
        // float_data packed, dims unpacked, and fields the reader must skip: doc_string, a fixed64, a nested message.
        Proto packedFloats = new Proto().varint(1, 3).varint(2, 1).bytes(4, Bytes.f32(0.5f, -1.25f, 3e-8f))
                .string(8, "packed").string(12, "doc").fixed64(99, 42L).message(100, new Proto().varint(1, 7));
        Proto unpackedFloats = new Proto().varint(1, 2).varint(2, 1).fixed32(4, Float.floatToIntBits(7f))
                .fixed32(4, Float.floatToIntBits(-8f)).string(8, "unpacked");
        Proto longs = new Proto().packedVarints(1, 1, 3).varint(2, 7).packedVarints(7, 0, 511, -2L).string(8, "position_ids");
        Proto ints = new Proto().varint(1, 2).varint(2, 6).varint(5, -5).varint(5, 9).string(8, "ints");
        Proto doubles = new Proto().varint(2, 11).bytes(10, Bytes.concat(Bytes.le64(Double.doubleToLongBits(Math.PI)))).string(8, "scalar");
        Proto empty = new Proto().packedVarints(1, 0, 4).varint(2, 1).string(8, "empty");
        Proto matmul = Proto.node("/encoder/layer.0/attention/self/query/MatMul", "MatMul", List.of("/x", "onnx::MatMul_7"), List.of("/y"));
        Proto add = Proto.node("/encoder/layer.0/attention/self/query/Add", "Add", List.of("/y", "bias"), List.of("/z"));
        return Proto.model(List.of(matmul, add), List.of(rawF32, packedFloats, unpackedFloats, longs, ints, doubles, empty));
    }

    @Test
    void readsEveryDataEncoding() throws IOException {
        try (OnnxModel m = OnnxModel.open(write("rich.onnx", richModel()))) {
            assertEquals(List.of("embeddings.word_embeddings.weight", "packed", "unpacked", "position_ids", "ints", "scalar", "empty"),
                    List.copyOf(m.initializers().keySet()));
            OnnxModel.Initializer w = m.initializers().get("embeddings.word_embeddings.weight");
            assertArrayEquals(new long[] {2, 3}, w.dims());
            assertEquals(DType.F32, w.dtype());
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, -6.5f}, w.toFloats());
            assertArrayEquals(new float[] {0.5f, -1.25f, 3e-8f}, m.initializers().get("packed").toFloats());
            assertArrayEquals(new float[] {7f, -8f}, m.initializers().get("unpacked").toFloats());
            OnnxModel.Initializer ids = m.initializers().get("position_ids");
            assertArrayEquals(new long[] {1, 3}, ids.dims());
            assertArrayEquals(new long[] {0, 511, -2}, ids.toLongs());
            assertArrayEquals(new int[] {-5, 9}, m.initializers().get("ints").data().toArray(OnnxModel.I32_LE));
            OnnxModel.Initializer scalar = m.initializers().get("scalar");
            assertArrayEquals(new long[0], scalar.dims());
            assertEquals(Math.PI, scalar.data().get(OnnxModel.F64_LE, 0));
            assertEquals(0, m.initializers().get("empty").data().byteSize());

            assertEquals(2, m.nodes().size());
            OnnxModel.Node n = m.nodes().get(0);
            assertEquals("MatMul", n.opType());
            assertEquals(List.of("/x", "onnx::MatMul_7"), n.inputs());
            assertEquals(List.of("/y"), n.outputs());
            assertEquals(List.of(n), m.consumers("onnx::MatMul_7"));
            assertEquals(List.of(m.nodes().get(1)), m.consumers("/y"));
        }
    }

    @Test
    void refusesWhatItCannotRepresent() throws IOException {
        Proto node = Proto.node("n", "Identity", List.of("a"), List.of("b"));
        record Bad(String expected, Proto tensor) {
        }
        List<Bad> cases = List.of(
                new Bad("external file", Proto.floats("ext", new long[] {1}, 1f).varint(14, 1)),
                new Bad("needs 12", Proto.floats("short", new long[] {3}, 1f, 2f)),
                new Bad("data_type 8", Proto.tensor("strings", 8, new long[] {1}, new byte[] {1})),
                new Bad("no data", new Proto().varint(1, 2).varint(2, 1).string(8, "nodata")),
                new Bad("negative dimension", Proto.floats("neg", new long[] {-1}, 1f)),
                new Bad("overflows", Proto.floats("huge", new long[] {1L << 40, 1L << 40}, 1f)),
                new Bad("no name", new Proto().varint(1, 1).varint(2, 1).bytes(9, Bytes.f32(1f))),
                new Bad("stores its values in field 7", new Proto().varint(1, 1).varint(2, 1).varint(7, 3).string(8, "mistyped")),
                new Bad("both raw_data and typed", Proto.floats("both", new long[] {1}, 1f).fixed32(4, 0)));
        for (Bad bad : cases) {
            Path p = write("bad.onnx", Proto.model(List.of(node), List.of(bad.tensor())));
            IOException e = assertThrows(IOException.class, () -> OnnxModel.open(p).close());
            assertTrue(e.getMessage().startsWith("bad.onnx: ") && e.getMessage().contains(bad.expected()), e.getMessage());
        }
        Path twice = write("twice.onnx", Proto.model(List.of(), List.of(Proto.floats("w", new long[] {1}, 1f), Proto.floats("w", new long[] {1}, 2f))));
        assertTrue(assertThrows(IOException.class, () -> OnnxModel.open(twice)).getMessage().contains("'w' appears twice"));
        Path noGraph = write("nograph.onnx", new Proto().varint(1, 8).string(2, "pytorch").toBytes());
        assertEquals("nograph.onnx: not a valid ONNX model: no graph (ModelProto field 7)",
                assertThrows(IOException.class, () -> OnnxModel.open(noGraph)).getMessage());
        Path empty = write("empty.onnx", new byte[0]);
        assertTrue(assertThrows(IOException.class, () -> OnnxModel.open(empty)).getMessage().startsWith("empty.onnx: "));
    }

    @Test
    void everyTruncationIsAnIOExceptionNamingTheFile() throws IOException {
        byte[] valid = richModel();
        int refused = 0;
        for (int len = 0; len < valid.length; len++) {
            if (openOrRefuse(Arrays.copyOf(valid, len), "cut.onnx", "length " + len)) {
                refused++;
            }
        }
        // Cuts inside the graph always break a length; only cuts in the trailing opset_import can parse.
        assertTrue(refused > valid.length - 20, "refused " + refused + " of " + valid.length);
    }

    @Test
    void randomCorruptionNeverEscapesAsAnotherException() throws IOException {
        byte[] valid = richModel();
        Random random = new Random(20260611L);
        int opened = 0;
        int refused = 0;
        for (int round = 0; round < 4000; round++) {
            byte[] b = valid.clone();
            int edits = 1 + random.nextInt(4);
            for (int e = 0; e < edits; e++) {
                int at = random.nextInt(b.length);
                switch (random.nextInt(4)) {
                    case 0 -> b[at] = (byte) random.nextInt(256);
                    case 1 -> b[at] ^= (byte) (1 << random.nextInt(8));
                    case 2 -> b[at] = (byte) 0xff; // long varints, huge lengths
                    default -> b = Arrays.copyOf(b, Math.max(0, b.length - 1 - random.nextInt(8)));
                }
                if (b.length == 0) {
                    break;
                }
            }
            if (openOrRefuse(b, "fuzz.onnx", "round " + round)) {
                refused++;
            } else {
                opened++;
            }
        }
        assertTrue(opened > 40 && refused > 1000, "opened " + opened + ", refused " + refused);
    }

    /**
     * Parses {@code bytes} as the file {@code fileName} would be (in memory, so thousands of rounds
     * stay fast): true when refused with a proper message, false when read consistently; fails on
     * anything else.
     */
    private static boolean openOrRefuse(byte[] bytes, String fileName, String what) {
        try (OnnxModel m = OnnxModel.parse(Path.of(fileName), MemorySegment.ofArray(bytes), Arena.ofConfined())) {
            for (OnnxModel.Initializer i : m.initializers().values()) {
                assertEquals(i.elementCount() * OnnxModel.elementSize(i.dataType()), i.data().byteSize(), what + ": " + i.name());
            }
            return false;
        } catch (IOException e) {
            assertTrue(e.getMessage().startsWith(fileName + ": ") && !e.getMessage().contains("\n"), what + ": " + e.getMessage());
            return true;
        } catch (Throwable t) {
            fail(what + ": " + t, t);
            return true;
        }
    }
}
