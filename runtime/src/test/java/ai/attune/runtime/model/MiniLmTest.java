package ai.attune.runtime.model;

import ai.attune.api.io.OnnxImport;
import ai.attune.api.io.OnnxModel;
import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.SentenceEncoder;
import ai.attune.api.model.Weights;
import ai.attune.api.nn.Module;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.model.bert.BertFamily;
import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real all-MiniLM-L6-v2, imported from the ONNX file in langchain4j's jar, against
 * langchain4j's own {@link AllMiniLmL6V2EmbeddingModel}, which runs that ONNX file in onnxruntime:
 * an independent implementation of the same network. langchain4j tokenizes with the same
 * tokenizer.json (DJL, padding off), runs the graph on [CLS] text [SEP], mean-pools over all tokens
 * and L2-normalises (texts over 510 tokens it splits and averages); for short texts that is
 * sentence-transformers' pipeline, which this test runs as one padded batch.
 */
class MiniLmTest {
    /** The shared data set, beside the checkout: module dir -> repo root -> its parent. */
    private static final Path SENTENCES = Path.of("../../shared/data/text/harvard_sentences.txt");

    @TempDir
    static Path cache;

    private static Path modelDir;

    @BeforeAll
    static void importFromTheClasspath() throws IOException {
        modelDir = MiniLm.materialize(cache);
    }

    @Test
    void importNamesAndTransposesEveryOnnxWeight() throws IOException {
        Path onnx = cache.resolve("copy.onnx");
        try (InputStream in = MiniLm.class.getClassLoader().getResourceAsStream(MiniLm.ONNX_RESOURCE)) {
            Files.copy(in, onnx);
        }
        try (OnnxModel model = OnnxModel.open(onnx); Arena arena = Arena.ofConfined();
             SafetensorsReader imported = SafetensorsReader.openModelDir(modelDir)) {
            List<OnnxImport.HfTensor> tensors = OnnxImport.huggingFaceTensors(model, arena);
            List<OnnxImport.HfTensor> matmuls = tensors.stream().filter(t -> t.source().startsWith("onnx::MatMul_")).toList();
            assertEquals(36, matmuls.size(), "6 layers x (query, key, value, attention output, intermediate, output)");
            assertEquals(101, tensors.size());
            assertEquals(new TreeSet<>(tensors.stream().map(OnnxImport.HfTensor::name).toList()), new TreeSet<>(imported.names()));

            // encoder.layer.0.intermediate.dense.weight is [1536, 384]: row o is column o of the ONNX [384, 1536] matrix.
            OnnxImport.HfTensor up = matmuls.stream().filter(t -> t.name().equals("encoder.layer.0.intermediate.dense.weight")).findFirst().orElseThrow();
            float[] onnxValues = model.initializers().get(up.source()).toFloats();
            float[] ours = imported.data(up.name()).toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
            assertEquals(List.of(1536L, 384L), Arrays.stream(imported.info(up.name()).shape()).boxed().toList());
            for (int o : new int[] {0, 7, 1535}) {
                for (int i : new int[] {0, 100, 383}) {
                    assertEquals(onnxValues[i * 1536 + o], ours[o * 384 + i]);
                }
            }
        }
        // Already there: nothing is opened or rewritten.
        FileTime before = Files.getLastModifiedTime(modelDir.resolve("model.safetensors"));
        assertEquals(modelDir, MiniLm.materialize(cache, resource -> {
            throw new AssertionError("opened " + resource);
        }));
        assertEquals(before, Files.getLastModifiedTime(modelDir.resolve("model.safetensors")));
    }

    @Test
    void aMissingResourceSaysWhichArtifactToAdd() throws IOException {
        Path other = cache.resolve("other");
        IOException e = assertThrows(IOException.class, () -> MiniLm.materialize(other, resource -> null));
        assertEquals("resource all-minilm-l6-v2.onnx of all-MiniLM-L6-v2 is not on the classpath: add " + MiniLm.MAVEN_ARTIFACT, e.getMessage());
        try (var left = Files.list(other)) {
            assertEquals(List.of(), left.toList(), "no staging files are left");
        }
    }

    @Test
    void embeddingsMatchOnnxruntimeOnRealSentences() throws IOException {
        List<String> sentences = Files.readAllLines(SENTENCES).stream().filter(s -> !s.isBlank()).limit(10).toList();
        assertEquals(10, sentences.size());

        // Our side: tokenizer.json from the imported directory, one padded batch.
        long[][] ids = new long[sentences.size()][];
        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(modelDir.resolve("tokenizer.json"))) {
            for (int s = 0; s < ids.length; s++) {
                Encoding e = tokenizer.encode(sentences.get(s));
                int real = (int) Arrays.stream(e.getAttentionMask()).sum(); // the file asks for padding to 128; keep the tokens
                ids[s] = Arrays.copyOf(e.getIds(), real);
                assertEquals(101, ids[s][0]); // [CLS]
                assertEquals(102, ids[s][real - 1]); // [SEP]
            }
        }
        int t = Arrays.stream(ids).mapToInt(r -> r.length).max().orElseThrow();
        long[] flatIds = new long[ids.length * t];
        long[] mask = new long[ids.length * t];
        for (int s = 0; s < ids.length; s++) {
            for (int i = 0; i < ids[s].length; i++) {
                flatIds[s * t + i] = ids[s][i];
                mask[s * t + i] = 1;
            }
        }
        JvmBackend backend = new JvmBackend();
        double[] ours;
        ModelConfig config = ModelConfig.read(modelDir);
        try (SafetensorsReader weights = SafetensorsReader.openModelDir(modelDir); Scope params = Scope.detached("params");
             Scope step = Scope.open("embed")) {
            BertFamily family = new BertFamily();
            assertTrue(family.accepts(config));
            Module module = family.load(config, weights, backend, DType.F32, params);
            assertEquals(Set.of(), Weights.unused(module, weights, n -> n));
            SentenceEncoder encoder = (SentenceEncoder) module;
            assertEquals(384, encoder.dimension());
            Tensor out = encoder.embed(Tensors.ofLongs(backend, flatIds, ids.length, t), Tensors.ofLongs(backend, mask, ids.length, t), null);
            ours = Tensors.toDoubles(out);
        }

        AllMiniLmL6V2EmbeddingModel oracle = new AllMiniLmL6V2EmbeddingModel();
        double minCosine = 1;
        double maxDiff = 0;
        for (int s = 0; s < sentences.size(); s++) {
            float[] theirs = oracle.embed(sentences.get(s)).content().vector();
            assertEquals(384, theirs.length);
            double dot = 0, a = 0, b = 0;
            for (int j = 0; j < 384; j++) {
                double x = ours[s * 384 + j];
                dot += x * theirs[j];
                a += x * x;
                b += (double) theirs[j] * theirs[j];
                maxDiff = Math.max(maxDiff, Math.abs(x - theirs[j]));
            }
            double cosine = dot / Math.sqrt(a * b);
            minCosine = Math.min(minCosine, cosine);
            assertTrue(cosine >= 0.9999, "sentence " + s + " '" + sentences.get(s) + "': cosine " + cosine);
            assertEquals(1.0, Math.sqrt(a), 1e-5, "our embedding is unit length");
        }
        System.out.printf("all-MiniLM-L6-v2 vs onnxruntime on %d sentences (up to %d tokens): 1 - min cosine %.3g, max |diff| %.3g%n",
                sentences.size(), t, 1 - minCosine, maxDiff);
    }
}
