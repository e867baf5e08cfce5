package ai.attune.runtime.cli;

import ai.attune.api.io.SafetensorsWriter;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.SentenceBatcher;
import ai.attune.api.model.SentenceEncoder;
import ai.attune.api.nn.Parameter;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.model.bert.BertFamily;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code bench/peers/st_encode.py}, the peer of {@code attune bench --op embed}, against Attune's
 * BertModel through the SentenceBatcher {@code attune embed} uses: a small random BERT written as
 * a sentence-transformers directory, pooled by [CLS] and by the mean, both normalised. Two
 * implementations of the same encode, one in PyTorch eager and one here, must give the same
 * embeddings in the same order. Runs where /usr/bin/python3 has torch; skipped otherwise.
 */
class StEncodePeerTest {
    private static final Path SCRIPT = Path.of("..").resolve(TorchPeer.ENCODE_SCRIPT);

    @TempDir
    Path dir;

    @Test
    void theScriptCompiles() throws IOException, InterruptedException {
        assumeTrue(Files.isExecutable(TorchPeerTest.PYTHON), TorchPeerTest.PYTHON + " is not installed");
        Process p = new ProcessBuilder(TorchPeerTest.PYTHON.toString(), "-c", "import sys; compile(open(sys.argv[1]).read(), sys.argv[1], 'exec')",
                SCRIPT.toString()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), output);
    }

    @Test
    void thePeerEncodesAsAttuneDoesWithClsAndMeanPooling() throws IOException {
        TorchPeer peer = new TorchPeer(TorchPeerTest.PYTHON, SCRIPT);
        assumeTrue(Files.isExecutable(TorchPeerTest.PYTHON), TorchPeerTest.PYTHON + " is not installed");
        try {
            peer.check();
        } catch (IllegalStateException e) {
            assumeTrue(false, e.getMessage());
        }
        Random r = new Random(5);
        long[][] ids = new long[7][];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = r.longs(3 + r.nextInt(18), 3, 100).toArray();
            ids[i][0] = 1;                 // a [CLS] of this vocabulary
            ids[i][ids[i].length - 1] = 2; // and its [SEP]
        }
        int[] sorted = Arrays.stream(ids).mapToInt(x -> x.length).boxed().sorted((a, b) -> b - a).mapToInt(Integer::intValue).toArray();
        long padded = 0;
        for (int b = 0; b < sorted.length; b += 3) {
            padded += (long) Math.min(3, sorted.length - b) * sorted[b];
        }
        for (String pooling : List.of("cls", "mean")) {
            Path model = Files.createDirectories(dir.resolve(pooling));
            double[][] ours = writeRandomBert(model, pooling, ids);
            Path idsFile = model.resolve("ids.jsonl");
            Path out = model.resolve("peer.f32");
            EmbedBench.writeIds(ids, idsFile);
            JsonNode j = peer.run(List.of("--model", model.toString(), "--ids", idsFile.toString(), "--embeddings-out", out.toString(),
                    "--batch-size", "3", "--repeats", "1", "--warmup", "2", "--threads", "1"));
            assertEquals(pooling, j.path("pooling").asText());
            assertTrue(j.path("normalize").asBoolean());
            assertEquals(7, j.path("texts").asInt());
            assertEquals(Arrays.stream(ids).mapToInt(x -> x.length).sum(), j.path("tokens").asLong());
            assertEquals(padded, j.path("padded_tokens").asLong(), "longest first, batches of 3, each padded to its first");
            float[] theirs = EmbedBench.readF32(out);
            assertEquals(7 * 32, theirs.length);
            double worst = 0;
            for (int i = 0; i < 7; i++) {
                for (int k = 0; k < 32; k++) {
                    worst = Math.max(worst, Math.abs(ours[i][k] - theirs[i * 32 + k]));
                    assertEquals(ours[i][k], theirs[i * 32 + k], 1e-5, pooling + " text " + i + " (" + ids[i].length + " ids), dimension " + k);
                }
            }
            float[] flat = new float[7 * 32];
            for (int i = 0; i < 7; i++) {
                for (int k = 0; k < 32; k++) {
                    flat[i * 32 + k] = (float) ours[i][k];
                }
            }
            assertTrue(EmbedBench.minCosine(flat, theirs, 7) >= EmbedBench.PEER_MIN_COSINE);
            System.out.printf("st_encode.py vs Attune, %s pooling: max |diff| %.3g%n", pooling, worst);
        }
    }

    /**
     * A 2-layer BERT (hidden 32 in 4 heads, intermediate 64, vocabulary 100) with weights drawn from
     * N(0, 0.3²) and LayerNorm weights near 1, written to {@code model} with the sentence-transformers
     * files for {@code pooling}; returns Attune's embeddings of {@code ids} in batches of 3.
     */
    private static double[][] writeRandomBert(Path model, String pooling, long[][] ids) throws IOException {
        Files.writeString(model.resolve("config.json"), """
                {"model_type": "bert", "architectures": ["BertModel"], "hidden_size": 32, "num_hidden_layers": 2,
                 "num_attention_heads": 4, "intermediate_size": 64, "vocab_size": 100, "max_position_embeddings": 64,
                 "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.1,
                 "attention_probs_dropout_prob": 0.1, "pad_token_id": 0}""");
        Files.writeString(model.resolve("modules.json"), """
                [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                 {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                 {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]""");
        Files.createDirectories(model.resolve("2_Normalize"));
        Files.writeString(Files.createDirectories(model.resolve("1_Pooling")).resolve("config.json"),
                "{\"word_embedding_dimension\": 32, \"pooling_mode_cls_token\": " + pooling.equals("cls")
                        + ", \"pooling_mode_mean_tokens\": " + pooling.equals("mean") + ", \"pooling_mode_max_tokens\": false}");
        JvmBackend be = new JvmBackend();
        try (Scope params = Scope.detached("params"); Arena arena = Arena.ofConfined()) {
            SentenceEncoder encoder = new BertFamily().create(ModelConfig.read(model), be, DType.F32, params);
            Random r = new Random(pooling.hashCode());
            SafetensorsWriter writer = new SafetensorsWriter();
            for (Map.Entry<String, Parameter> e : encoder.module().namedParameters().entrySet()) {
                Tensor w = e.getValue().value();
                boolean norm = e.getKey().endsWith("LayerNorm.weight");
                double[] values = r.doubles(w.numel()).map(u -> (norm ? 1 : 0) + 0.3 * (2 * u - 1) * Math.sqrt(3)).toArray();
                try (Scope tmp = Scope.open("init")) {
                    be.copy(Tensors.of(be, DType.F32, values, w.shape()), w);
                }
                MemorySegment bytes = arena.allocate(w.numel() * 4);
                be.copyToBytes(w, bytes);
                writer.add(e.getKey(), DType.F32, Arrays.stream(w.shape()).asLongStream().toArray(), bytes);
            }
            writer.write(model.resolve("model.safetensors"));
            return new SentenceBatcher(encoder, be, text -> {
                throw new AssertionError("the ids are given");
            }, 64).encode(ids, 3, n -> { });
        }
    }
}
