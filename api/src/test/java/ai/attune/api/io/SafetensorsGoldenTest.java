package ai.attune.api.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.attune.api.tensor.DType;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Files built byte by byte from the format description, read and written. */
class SafetensorsGoldenTest {

    @TempDir
    Path dir;

    /** Two F32 and one I32, padded header, header order differing from data order. */
    @Test
    void readsHandBuiltFile() throws Exception {
        String header = "{\"b\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[8,12]},"
                + "\"__metadata__\":{\"format\":\"pt\",\"note\":\"h\u00e9\"},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}   ";
        byte[] data = Bytes.concat(Bytes.f32(1.5f, -2.0f), Bytes.i32(7));
        Path p = dir.resolve("golden.safetensors");
        Files.write(p, Bytes.file(header, data));

        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(List.of("b", "a"), List.copyOf(f.names()));
            assertEquals(Map.of("format", "pt", "note", "h\u00e9"), f.metadata());
            assertEquals(new TensorInfo("a", DType.F32, new long[] {2}, 0, 8), f.info("a"));
            assertEquals(new TensorInfo("b", DType.I32, new long[] {}, 8, 12), f.info("b"));
            MemorySegment a = f.data("a");
            assertEquals(1.5f, a.get(Bytes.F32, 0));
            assertEquals(-2.0f, a.get(Bytes.F32, 4));
            assertEquals(7, f.data("b").get(Bytes.I32, 0));
            assertEquals(8 + header.getBytes("UTF-8").length, f.dataStart());
            assertTrue(a.isReadOnly());
            NoSuchElementException e = assertThrows(NoSuchElementException.class, () -> f.info("missing"));
            assertEquals("golden.safetensors: no tensor 'missing'", e.getMessage());
        }
    }

    /** The writer's output is exactly what the format prescribes, compact JSON padded to 8. */
    @Test
    void writerProducesExactBytes() throws Exception {
        String json = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[8,12]},"
                + "\"c\":{\"dtype\":\"U8\",\"shape\":[1,3],\"data_offsets\":[12,15]}}";
        String padded = json + " ".repeat((8 - json.length() % 8) % 8);
        byte[] data = Bytes.concat(Bytes.f32(1.5f, -2.0f), Bytes.i32(7), new byte[] {1, 2, 3});
        byte[] expected = Bytes.file(padded, data);

        Path p = dir.resolve("written.safetensors");
        // Added out of layout order: the writer sorts by element size, then name.
        new SafetensorsWriter()
                .add("c", DType.U8, new long[] {1, 3}, Bytes.seg(new byte[] {1, 2, 3}))
                .add("b", DType.I32, new long[] {}, Bytes.seg(Bytes.i32(7)))
                .add("a", DType.F32, new long[] {2}, Bytes.seg(Bytes.f32(1.5f, -2.0f)))
                .putMetadata("format", "pt")
                .write(p);
        assertArrayEquals(expected, Files.readAllBytes(p));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(0, f.dataStart() % 8);
            assertEquals(List.of("a", "b", "c"), List.copyOf(f.names()));
            assertArrayEquals(new byte[] {1, 2, 3}, Bytes.toArray(f.data("c")));
        }
    }

    @Test
    void emptyCheckpointIsValid() throws Exception {
        Path p = dir.resolve("empty.safetensors");
        Files.write(p, Bytes.file("{}      ", new byte[0]));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertTrue(f.names().isEmpty());
            assertTrue(f.metadata().isEmpty());
        }
        new SafetensorsWriter().write(p);
        assertArrayEquals(Bytes.file("{}      ", new byte[0]), Files.readAllBytes(p));
    }

    /** Each rule, with the one-line message it produces. */
    @Test
    void refusesBrokenFiles() throws Exception {
        String ok = "\"t\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]}";
        byte[] d48 = new byte[48];
        assertRefused(new byte[5], "bad.safetensors: file is 5 bytes, too short for the 8-byte header length");
        assertRefused(Bytes.le64(100_000_001), "header length 100000001 exceeds the limit of 100000000 bytes");
        assertRefused(Bytes.le64(-1), "header length 18446744073709551615 exceeds the limit");
        assertRefused(Bytes.concat(Bytes.le64(20), "{}".getBytes()), "header length 20 runs past the end of the file (10 bytes)");
        assertRefused(Bytes.concat(Bytes.le64(2), new byte[] {'{', (byte) 0xff}), "header is not valid UTF-8");
        assertRefused(Bytes.file("{\"t\":", new byte[0]), "header is not valid JSON");
        assertRefused(Bytes.file("{} x", new byte[0]), "header is not valid JSON");
        assertRefused(Bytes.file("[]", new byte[0]), "header is not a JSON object");
        assertRefused(Bytes.file("{\"t\":" + "[".repeat(100_000), new byte[0]), "header is not valid JSON: Document nesting depth");
        assertRefused(Bytes.file("", new byte[0]), "header is not a JSON object");
        assertRefused(Bytes.file("{" + ok + "," + ok + "}", d48), "header is not valid JSON: Duplicate field 't'");
        assertRefused(Bytes.file("{\"t\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,10]}}", new byte[10]),
                "bad.safetensors: tensor 't': data_offsets [0, 10] do not match shape [3, 4] of F32 (48 bytes)");
        assertRefused(Bytes.file("{\"t\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", new byte[1]),
                "tensor 't': unknown dtype \"F8_E4M3\"");
        assertRefused(Bytes.file("{\"t\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}}", new byte[1]),
                "tensor 't': shape must be an array of non-negative integers, found [-1]");
        assertRefused(Bytes.file("{\"t\":{\"dtype\":\"U8\",\"shape\":[1.0],\"data_offsets\":[0,1]}}", new byte[1]),
                "shape must be an array of non-negative integers");
        assertRefused(Bytes.file("{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", new byte[1]),
                "tensor 't': data_offsets must be two non-negative integers, found [0]");
        assertRefused(Bytes.file("{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,0]}}", new byte[1]),
                "tensor 't': data_offsets [1, 0] end before they begin");
        assertRefused(Bytes.file("{\"t\":{\"dtype\":\"U8\",\"shape\":[1]}}", new byte[1]),
                "tensor 't': needs the keys dtype, shape, data_offsets but found [dtype, shape]");
        assertRefused(Bytes.file("{\"t\":[]}", new byte[0]), "tensor 't': entry is not a JSON object but []");
        assertRefused(Bytes.file("{\"t\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}",
                new byte[0]), "tensor 't': shape [4294967296, 4294967296] of F64 overflows a 64-bit byte count");
        assertRefused(Bytes.file("{\"t\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", new byte[1]),
                "tensor 't': data_offsets [0, 2] extend past the data buffer (1 bytes)");
        assertRefused(Bytes.file("{\"t\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                        + "\"u\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]}}", new byte[3]),
                "tensor 'u': data_offsets [1, 3] overlap tensor 't' [0, 2]");
        assertRefused(Bytes.file("{\"t\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]}}", new byte[3]),
                "data buffer bytes [0, 1) before tensor 't' belong to no tensor");
        assertRefused(Bytes.file("{\"t\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", new byte[3]),
                "data buffer has 3 bytes but the tensors cover only the first 2");
        assertRefused(Bytes.file("{\"__metadata__\":{\"k\":1}}", new byte[0]),
                "__metadata__ value of key 'k' is not a string but 1");
        assertRefused(Bytes.file("{\"__metadata__\":[\"k\"]}", new byte[0]), "__metadata__ is not a JSON object");
        assertRefused(Bytes.file("{\"a\\nb\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", new byte[1]),
                "tensor 'a\\u000ab': data_offsets [0, 2] extend past");
    }

    @Test
    void nullMetadataReadsAsEmpty() throws Exception {
        Path p = dir.resolve("nullmeta.safetensors");
        Files.write(p, Bytes.file("{\"__metadata__\":null}", new byte[0]));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertTrue(f.metadata().isEmpty());
        }
    }

    @Test
    void zeroSizeTensorsMayShareAnOffset() throws Exception {
        Path p = dir.resolve("zeros.safetensors");
        Files.write(p, Bytes.file("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                + "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                + "\"c\":{\"dtype\":\"I64\",\"shape\":[2,0],\"data_offsets\":[1,1]}}", new byte[] {9}));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(0, f.data("a").byteSize());
            assertEquals(9, f.data("b").get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
            assertEquals(0, f.data("c").byteSize());
        }
    }

    @Test
    void closedFileRefusesData() throws Exception {
        Path p = dir.resolve("closed.safetensors");
        new SafetensorsWriter().add("x", DType.U8, new long[] {1}, Bytes.seg(new byte[] {1})).write(p);
        SafetensorsFile f = SafetensorsFile.open(p);
        MemorySegment before = f.data("x");
        f.close();
        f.close();
        assertThrows(IllegalStateException.class, () -> f.data("x"));
        assertFalse(before.scope().isAlive());
        assertEquals(1, f.info("x").byteSize());
    }

    @Test
    void extraEntryKeysAreIgnoredAsTheReferenceReaderDoes() throws Exception {
        Path f = dir.resolve("extra.safetensors");
        java.nio.file.Files.write(f, Bytes.file("{\"t\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2],\"x\":1}}", new byte[] {7, 9}));
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            assertEquals(2, st.data("t").byteSize());
            assertEquals(9, st.data("t").get(java.lang.foreign.ValueLayout.JAVA_BYTE, 1));
        }
    }

    private void assertRefused(byte[] content, String expectedMessagePart) throws Exception {
        Path p = dir.resolve("bad.safetensors");
        Files.write(p, content);
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(p).close());
        assertTrue(e.getMessage().startsWith("bad.safetensors: "), e.getMessage());
        assertTrue(e.getMessage().contains(expectedMessagePart), () -> "message: " + e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertEquals(p, e.file());
    }
}
