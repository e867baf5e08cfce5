package ai.attune.api.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.attune.api.tensor.DType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsRoundTripTest {

    @TempDir
    Path dir;

    private record Spec(DType dtype, long[] shape, byte[] bytes) {
    }

    /** Every dtype, a scalar, a zero-size tensor and odd sizes that would misalign a naive layout. */
    private static Map<String, Spec> specs() {
        Random r = new Random(7);
        Map<String, Spec> m = new LinkedHashMap<>();
        m.put("u8.odd", new Spec(DType.U8, new long[] {3}, bytes(r, 3)));
        m.put("bool.flags", new Spec(DType.BOOL, new long[] {5}, new byte[] {1, 0, 0, 1, 1}));
        m.put("f16.half", new Spec(DType.F16, new long[] {1, 3}, bytes(r, 6)));
        m.put("bf16.w", new Spec(DType.BF16, new long[] {2, 3}, bytes(r, 12)));
        m.put("f32.w", new Spec(DType.F32, new long[] {2, 2},
                Bytes.f32(1.0f, -0.5f, Float.NaN, Float.MIN_VALUE)));
        m.put("f32.scalar", new Spec(DType.F32, new long[] {}, Bytes.f32(3.25f)));
        m.put("f32.empty", new Spec(DType.F32, new long[] {0, 3}, new byte[0]));
        m.put("i32.ids", new Spec(DType.I32, new long[] {3}, Bytes.i32(-1, 0, Integer.MAX_VALUE)));
        m.put("i64.step", new Spec(DType.I64, new long[] {}, Bytes.le64(Long.MIN_VALUE)));
        ByteBuffer f64 = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putDouble(Math.PI).putDouble(-0.0);
        m.put("f64.pair", new Spec(DType.F64, new long[] {2}, f64.array()));
        return m;
    }

    private static byte[] bytes(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    @Test
    void roundTripsEveryDtype() throws Exception {
        Map<String, Spec> specs = specs();
        SafetensorsWriter w = new SafetensorsWriter().putMetadata("format", "pt").putMetadata("step", "12");
        specs.forEach((name, s) -> w.add(name, s.dtype(), s.shape(), Bytes.seg(s.bytes())));
        Path p = dir.resolve("all.safetensors");
        w.write(p);

        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(specs.keySet(), f.names());
            assertEquals(Map.of("format", "pt", "step", "12"), f.metadata());
            for (var e : specs.entrySet()) {
                TensorInfo info = f.info(e.getKey());
                assertEquals(e.getValue().dtype(), info.dtype());
                assertArrayEquals(e.getValue().shape(), info.shape());
                assertArrayEquals(e.getValue().bytes(), Bytes.toArray(f.data(e.getKey())), e.getKey());
                // The layout aligns each tensor to its element size within the file.
                assertEquals(0, (f.dataStart() + info.begin()) % info.dtype().byteSize(), e.getKey());
            }
            assertEquals(1, f.info("f32.scalar").elementCount());
            assertEquals(0, f.info("f32.empty").elementCount());
            assertEquals(3.25f, f.data("f32.scalar").get(Bytes.F32, 0));
            assertEquals(Math.PI, f.data("f64.pair").get(Bytes.F64, 0));
            assertEquals(Long.MIN_VALUE, f.data("i64.step").get(Bytes.I64, 0));
        }

        // The header is compact JSON padded with spaces to an 8-aligned data start.
        byte[] file = Files.readAllBytes(p);
        long n = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, (8 + n) % 8);
        String header = new String(file, 8, (int) n, StandardCharsets.UTF_8);
        JsonNode root = new ObjectMapper().readTree(header);
        assertEquals("pt", root.get("__metadata__").get("format").asText());
        assertEquals("F64", root.get("f64.pair").get("dtype").asText());
        assertTrue(header.startsWith("{\"__metadata__\""));
    }

    /** Segments not viewable as a ByteBuffer (int[]-backed), large ones spanning chunks, native ones. */
    @Test
    void writesAnySegmentKind() throws Exception {
        int[] ints = new int[3_000_000]; // 12 MB: more than one copy chunk
        for (int i = 0; i < ints.length; i++) {
            ints[i] = i * 31;
        }
        Path p = dir.resolve("kinds.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment nativeSeg = arena.allocate(8);
            nativeSeg.set(Bytes.I64, 0, 42L);
            new SafetensorsWriter()
                    .add("ints", DType.I32, new long[] {ints.length}, MemorySegment.ofArray(ints))
                    .add("native", DType.I64, new long[] {1}, nativeSeg)
                    .write(p);
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            MemorySegment s = f.data("ints");
            assertEquals(12_000_000L, s.byteSize());
            assertEquals(31 * 2_999_999, s.get(Bytes.I32, 4L * 2_999_999));
            assertEquals(31 * 2_097_152, s.get(Bytes.I32, 4L * 2_097_152)); // first int of chunk two
            assertEquals(42L, f.data("native").get(Bytes.I64, 0));
        }
    }

    /** Re-saving a checkpoint over the file it is mapped from: the rename keeps the old mapping valid. */
    @Test
    void rewritesTheFileItReadsFrom() throws Exception {
        Path p = dir.resolve("inplace.safetensors");
        new SafetensorsWriter().add("a", DType.F32, new long[] {2}, Bytes.seg(Bytes.f32(1, 2))).write(p);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            new SafetensorsWriter()
                    .add("a", DType.F32, new long[] {2}, f.data("a"))
                    .add("b", DType.F32, new long[] {1}, Bytes.seg(Bytes.f32(3)))
                    .write(p);
            assertEquals(2.0f, f.data("a").get(Bytes.F32, 4));
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertArrayEquals(Bytes.f32(1, 2, 3), Bytes.concat(Bytes.toArray(f.data("a")), Bytes.toArray(f.data("b"))));
        }
    }

    @Test
    void writerValidatesTensors() {
        SafetensorsWriter w = new SafetensorsWriter().add("a", DType.U8, new long[] {1}, Bytes.seg(new byte[1]));
        var e = assertThrows(IllegalArgumentException.class,
                () -> w.add("b", DType.F32, new long[] {3, 4}, Bytes.seg(new byte[10])));
        assertEquals("tensor 'b': 10 bytes do not match shape [3, 4] of F32 (48 bytes)", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> w.add("a", DType.U8, new long[] {1}, Bytes.seg(new byte[1])));
        assertThrows(IllegalArgumentException.class,
                () -> w.add("__metadata__", DType.U8, new long[] {1}, Bytes.seg(new byte[1])));
        assertThrows(IllegalArgumentException.class, () -> w.add("n", DType.U8, new long[] {-1}, Bytes.seg(new byte[0])));
        assertThrows(IllegalArgumentException.class,
                () -> w.add("o", DType.F64, new long[] {1L << 32, 1L << 32}, Bytes.seg(new byte[0])));
        assertThrows(IllegalArgumentException.class, () -> w.add("\ud800", DType.U8, new long[] {1}, Bytes.seg(new byte[1])));
        assertThrows(IllegalArgumentException.class, () -> w.putMetadata("k", "\udc00"));
    }

    @Test
    void unicodeNamesRoundTrip() throws Exception {
        Path p = dir.resolve("unicode.safetensors");
        String name = "layer.\u00e9\u4e2d\ud83d\ude00\"quoted\"\\";
        new SafetensorsWriter().add(name, DType.U8, new long[] {2}, Bytes.seg(new byte[] {4, 5}))
                .putMetadata("\u00fc", "\n").write(p);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(java.util.Set.of(name), f.names());
            assertArrayEquals(new byte[] {4, 5}, Bytes.toArray(f.data(name)));
            assertEquals("\n", f.metadata().get("\u00fc"));
        }
        assertTrue(Arrays.asList(dir.toFile().list()).contains("unicode.safetensors"));
    }
}
