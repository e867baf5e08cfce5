package ai.attune.api.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.attune.api.tensor.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardedSafetensorsTest {

    @TempDir
    Path dir;

    @BeforeEach
    void twoShards() throws Exception {
        new SafetensorsWriter()
                .add("embed.weight", DType.F32, new long[] {2}, Bytes.seg(Bytes.f32(1, 2)))
                .add("layer.0.weight", DType.F32, new long[] {1}, Bytes.seg(Bytes.f32(3)))
                .putMetadata("format", "pt")
                .write(dir.resolve("model-00001-of-00002.safetensors"));
        new SafetensorsWriter()
                .add("lm_head.weight", DType.F32, new long[] {3}, Bytes.seg(Bytes.f32(4, 5, 6)))
                .write(dir.resolve("model-00002-of-00002.safetensors"));
    }

    private Path index(String weightMap) throws Exception {
        return Files.writeString(dir.resolve("model.safetensors.index.json"),
                "{\"metadata\": {\"total_size\": 24, \"format\": \"pt\"}, \"weight_map\": {" + weightMap + "}}");
    }

    private static final String GOOD = "\"embed.weight\": \"model-00001-of-00002.safetensors\","
            + "\"lm_head.weight\": \"model-00002-of-00002.safetensors\","
            + "\"layer.0.weight\": \"model-00001-of-00002.safetensors\"";

    @Test
    void readsAcrossShards() throws Exception {
        Path index = index(GOOD);
        try (SafetensorsReader r = SafetensorsReader.openModelDir(dir)) {
            ShardedSafetensors s = assertInstanceOf(ShardedSafetensors.class, r);
            assertEquals(index, r.path());
            assertEquals(List.of("embed.weight", "lm_head.weight", "layer.0.weight"), List.copyOf(r.names()));
            assertEquals(Map.of("total_size", "24", "format", "pt"), r.metadata());
            assertArrayEquals(Bytes.f32(4, 5, 6), Bytes.toArray(r.data("lm_head.weight")));
            assertArrayEquals(Bytes.f32(1, 2), Bytes.toArray(r.data("embed.weight")));
            assertEquals(new TensorInfo("layer.0.weight", DType.F32, new long[] {1}, 8, 12), r.info("layer.0.weight"));
            assertEquals(dir.resolve("model-00002-of-00002.safetensors").toAbsolutePath(), s.shardPath("lm_head.weight"));
            var e = assertThrows(NoSuchElementException.class, () -> r.info("nope"));
            assertEquals("model.safetensors.index.json: no tensor 'nope'", e.getMessage());
        }
    }

    @Test
    void refusesShardsOutsideTheDirectory() throws Exception {
        for (String shard : List.of("../x.safetensors", "sub/../../x.safetensors", "/etc/passwd",
                dir.resolve("model-00002-of-00002.safetensors").toAbsolutePath().toString(), "", ".")) {
            index("\"w\": \"" + shard + "\"");
            var e = assertThrows(SafetensorsException.class, () -> ShardedSafetensors.open(dir.resolve(
                    "model.safetensors.index.json")), shard);
            assertTrue(e.getMessage().startsWith("model.safetensors.index.json: tensor 'w': "), e.getMessage());
        }
    }

    @Test
    void refusesMissingShardByName() throws Exception {
        index(GOOD + ", \"extra\": \"model-00003-of-00002.safetensors\"");
        var e = assertThrows(SafetensorsException.class, () -> SafetensorsReader.openModelDir(dir));
        assertEquals("model.safetensors.index.json: shard 'model-00003-of-00002.safetensors' does not exist",
                e.getMessage());
    }

    @Test
    void refusesShardThatLacksAMappedTensor() throws Exception {
        index(GOOD + ", \"ghost\": \"model-00002-of-00002.safetensors\"");
        try (ShardedSafetensors s = ShardedSafetensors.open(dir.resolve("model.safetensors.index.json"))) {
            assertArrayEquals(Bytes.f32(1, 2), Bytes.toArray(s.data("embed.weight"))); // other shard is fine
            var e = assertThrows(SafetensorsException.class, () -> s.info("lm_head.weight"));
            assertEquals("model.safetensors.index.json: tensor 'ghost' is mapped to shard "
                    + "'model-00002-of-00002.safetensors', which does not contain it", e.getMessage());
        }
    }

    @Test
    void refusesMalformedIndex() throws Exception {
        Path index = dir.resolve("model.safetensors.index.json");
        for (String json : List.of("[]", "{\"metadata\": {}}", "{\"weight_map\": []}",
                "{\"weight_map\": {\"a\": 1}}", "{\"weight_map\": {}, \"metadata\": 3}", "{\"weight_map\": {",
                "{\"weight_map\": {\"a\": \"x\", \"a\": \"y\"}}")) {
            Files.writeString(index, json);
            var e = assertThrows(SafetensorsException.class, () -> ShardedSafetensors.open(index), json);
            assertTrue(e.getMessage().startsWith("model.safetensors.index.json: "), e.getMessage());
        }
    }

    @Test
    void modelDirPrefersSingleFileAndExplainsAbsence() throws Exception {
        var e = assertThrows(SafetensorsException.class, () -> SafetensorsReader.openModelDir(dir));
        assertTrue(e.getMessage().contains("holds neither model.safetensors nor model.safetensors.index.json"),
                e.getMessage());
        assertThrows(SafetensorsException.class, () -> SafetensorsReader.openModelDir(dir.resolve("missing")));

        index(GOOD);
        Files.copy(dir.resolve("model-00002-of-00002.safetensors"), dir.resolve("model.safetensors"));
        try (SafetensorsReader r = SafetensorsReader.openModelDir(dir)) {
            assertInstanceOf(SafetensorsFile.class, r);
            assertEquals(List.of("lm_head.weight"), List.copyOf(r.names()));
        }
    }

    @Test
    void writerShardsByMaxBytes() throws Exception {
        Path out = Files.createDirectory(dir.resolve("out"));
        Files.writeString(out.resolve("model.safetensors"), "stale");
        SafetensorsWriter w = new SafetensorsWriter().putMetadata("format", "pt");
        for (int i = 0; i < 5; i++) {
            w.add("w" + i, DType.F32, new long[] {10}, Bytes.seg(new byte[40]));
        }
        List<Path> files = w.writeSharded(out, "model", 100); // two tensors per shard
        assertEquals(4, files.size());
        assertEquals(out.resolve("model-00003-of-00003.safetensors"), files.get(2));
        assertEquals(out.resolve("model.safetensors.index.json"), files.get(3));
        try (SafetensorsReader r = SafetensorsReader.openModelDir(out)) {
            assertInstanceOf(ShardedSafetensors.class, r);
            assertEquals(5, r.names().size());
            assertEquals("200", r.metadata().get("total_size"));
            for (String name : r.names()) {
                assertEquals(40, r.data(name).byteSize());
            }
        }

        // Fits in one: a single file, and the now stale index goes.
        List<Path> single = w.writeSharded(out, "model", 1 << 20);
        assertEquals(List.of(out.resolve("model.safetensors")), single);
        assertTrue(Files.notExists(out.resolve("model.safetensors.index.json")));
        try (SafetensorsReader r = SafetensorsReader.openModelDir(out)) {
            assertInstanceOf(SafetensorsFile.class, r);
            assertEquals(Map.of("format", "pt"), r.metadata());
        }
    }
}
