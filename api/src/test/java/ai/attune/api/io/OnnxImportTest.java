package ai.attune.api.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.attune.api.io.OnnxModelTest.Proto;
import ai.attune.api.tensor.DType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ONNX-to-Hugging-Face import on a hand-built export shaped like torch.onnx.export's output:
 * HF-named initializers keep their names (a {@code bert.} prefix dropped), {@code onnx::MatMul_N}
 * weights are named after their consuming node and transposed from [in, out] to [out, in], buffers
 * are dropped, and anything unnameable is an error naming it, with no output left behind.
 */
class OnnxImportTest {

    @TempDir
    Path dir;

    private static Proto matmul(String nodeName, String weight) {
        return Proto.node(nodeName, "MatMul", List.of("/x", weight), List.of(nodeName + "_output_0"));
    }

    /** Two [in=2, out=3] MatMul weights, an HF-named embedding, a prefixed bias and a buffer. */
    private Path export(List<Proto> extraNodes, List<Proto> extraInits) throws IOException {
        List<Proto> nodes = new java.util.ArrayList<>(List.of(
                matmul("/encoder/layer.0/attention/self/query/MatMul", "onnx::MatMul_7"),
                matmul("/bert/encoder/layer.0/intermediate/dense/MatMul", "onnx::MatMul_8"),
                Proto.node("/embeddings/word_embeddings/Gather", "Gather", List.of("embeddings.word_embeddings.weight", "ids"), List.of("/e"))));
        nodes.addAll(extraNodes);
        List<Proto> inits = new java.util.ArrayList<>(List.of(
                Proto.floats("embeddings.word_embeddings.weight", new long[] {2, 2}, 1, 2, 3, 4),
                Proto.floats("bert.encoder.layer.0.attention.self.query.bias", new long[] {3}, 7, 8, 9),
                new Proto().packedVarints(1, 1, 2).varint(2, 7).packedVarints(7, 0, 1).string(8, "embeddings.position_ids"),
                Proto.floats("onnx::MatMul_7", new long[] {2, 3}, 11, 12, 13, 21, 22, 23),
                Proto.floats("onnx::MatMul_8", new long[] {2, 3}, 1, 2, 3, 4, 5, 6)));
        inits.addAll(extraInits);
        Path p = dir.resolve("model.onnx");
        Files.write(p, Proto.model(nodes, inits));
        return p;
    }

    @Test
    void namesAndTransposesLikeTheCheckpoint() throws IOException {
        try (OnnxModel m = OnnxModel.open(export(List.of(), List.of())); Arena arena = Arena.ofConfined()) {
            List<OnnxImport.HfTensor> ts = OnnxImport.huggingFaceTensors(m, arena);
            assertEquals(List.of("embeddings.word_embeddings.weight", "encoder.layer.0.attention.self.query.bias",
                            "encoder.layer.0.attention.self.query.weight", "encoder.layer.0.intermediate.dense.weight"),
                    ts.stream().map(OnnxImport.HfTensor::name).toList());
            OnnxImport.HfTensor q = ts.get(2);
            assertEquals("onnx::MatMul_7", q.source());
            assertEquals(DType.F32, q.dtype());
            assertArrayEquals(new long[] {3, 2}, q.shape());
            // x @ W with W [in, out] is x @ weight^T with weight [out, in]: row o of weight is column o of W.
            assertArrayEquals(new float[] {11, 21, 12, 22, 13, 23}, q.bytes().toArray(OnnxModel.F32_LE));
            assertArrayEquals(new float[] {1, 2, 3, 4}, ts.get(0).bytes().toArray(OnnxModel.F32_LE));
        }
    }

    @Test
    void writesACompleteDirectoryAtomically() throws IOException {
        Path onnx = export(List.of(), List.of());
        Path tokenizer = Files.writeString(dir.resolve("tok.json"), "{\"version\":\"1.0\"}");
        Path out = dir.resolve("cache").resolve("tiny-bert");
        String config = "{\"model_type\":\"bert\",\"hidden_size\":2}";
        OnnxImport.writeHuggingFaceDir(onnx, tokenizer, config, Map.of("1_Pooling/config.json", "{}", "2_Normalize/", ""), out);

        assertEquals(config, Files.readString(out.resolve("config.json")));
        assertEquals("{\"version\":\"1.0\"}", Files.readString(out.resolve("tokenizer.json")));
        assertEquals("{}", Files.readString(out.resolve("1_Pooling/config.json")));
        assertEquals(List.of(), listNames(out.resolve("2_Normalize")), "a path ending in / is an empty directory");
        try (SafetensorsFile st = SafetensorsFile.open(out.resolve("model.safetensors"))) {
            assertEquals(4, st.names().size());
            assertEquals("pt", st.metadata().get("format"));
            TensorInfo w = st.info("encoder.layer.0.intermediate.dense.weight");
            assertArrayEquals(new long[] {3, 2}, w.shape());
            assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, st.data(w.name()).toArray(OnnxModel.F32_LE));
        }
        assertEquals(List.of("tiny-bert"), listNames(out.getParent()), "no temporary directory is left");

        // An existing directory is never overwritten or merged into.
        assertThrows(FileAlreadyExistsException.class, () -> OnnxImport.writeHuggingFaceDir(onnx, tokenizer, config, out));
        assertThrows(IllegalArgumentException.class, () -> OnnxImport.writeHuggingFaceDir(onnx, tokenizer, "[1]", dir.resolve("x")));
        assertThrows(IllegalArgumentException.class, () -> OnnxImport.writeHuggingFaceDir(onnx, tokenizer, config,
                Map.of("../escape.json", "{}"), dir.resolve("y")));
        assertFalse(Files.exists(dir.resolve("escape.json")));
        assertFalse(Files.exists(dir.resolve("y")));
    }

    @Test
    void anUnnameableInitializerIsAnErrorNamingIt() throws IOException {
        Path tokenizer = Files.writeString(dir.resolve("tok.json"), "{}");
        record Bad(String expected, List<Proto> nodes, List<Proto> inits) {
        }
        List<Bad> cases = List.of(
                new Bad("'onnx::Add_9' has no Hugging Face name and is not the weight (input B) of a MatMul but read by Add node '/pooler/Add'",
                        List.of(Proto.node("/pooler/Add", "Add", List.of("/x", "onnx::Add_9"), List.of("/y"))),
                        List.of(Proto.floats("onnx::Add_9", new long[] {1}, 1f))),
                new Bad("'onnx::MatMul_5' has no Hugging Face name and is read by 0 nodes",
                        List.of(), List.of(Proto.floats("onnx::MatMul_5", new long[] {1, 1}, 1f))),
                new Bad("'onnx::MatMul_6' is read by MatMul node 'MatMul_12', whose name is not a module path",
                        List.of(matmul("MatMul_12", "onnx::MatMul_6")), List.of(Proto.floats("onnx::MatMul_6", new long[] {1, 1}, 1f))),
                new Bad("'onnx::MatMul_7' and 'onnx::MatMul_9' both map to 'encoder.layer.0.attention.self.query.weight'",
                        List.of(matmul("/encoder/layer.0/attention/self/query/MatMul", "onnx::MatMul_9")),
                        List.of(Proto.floats("onnx::MatMul_9", new long[] {2, 3}, 1, 2, 3, 4, 5, 6))),
                new Bad("'bert.encoder.layer.0.attention.self.query.bias' and 'encoder.layer.0.attention.self.query.bias' both map",
                        List.of(), List.of(Proto.floats("encoder.layer.0.attention.self.query.bias", new long[] {3}, 1, 2, 3))),
                new Bad("'onnx::MatMul_3' has shape [1, 1, 1], expected [in, out]",
                        List.of(matmul("/encoder/layer.1/output/dense/MatMul", "onnx::MatMul_3")),
                        List.of(Proto.floats("onnx::MatMul_3", new long[] {1, 1, 1}, 1f))));
        for (Bad bad : cases) {
            Path onnx = export(bad.nodes(), bad.inits());
            Path out = dir.resolve("out");
            IOException e = assertThrows(IOException.class, () -> OnnxImport.writeHuggingFaceDir(onnx, tokenizer, "{}", out));
            assertTrue(e.getMessage().startsWith("model.onnx: ") && e.getMessage().contains(bad.expected()), e.getMessage());
            assertEquals(List.of("model.onnx", "tok.json"), listNames(dir), "nothing is left behind");
        }
    }

    private static List<String> listNames(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
