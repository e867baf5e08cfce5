package ai.attune.runtime.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A pretrained sentence encoder that ships inside a Maven artifact as an fp32 ONNX export and its
 * {@code tokenizer.json}, and the sentence-transformers pipeline its model card prescribes.
 * {@link OnnxEncoderImporter} turns it into a Hugging Face model directory whose sentence-transformers
 * files ({@code modules.json}, {@code 1_Pooling/config.json}, {@code 2_Normalize},
 * {@code config_sentence_transformers.json}) carry that pipeline, so that Attune's BERT family and
 * {@code SentenceTransformer(dir)} both embed the way the model was trained.
 *
 * @param name              what users pass to {@code --model}; also the directory's name in the cache
 * @param hubId             the model's Hugging Face Hub id, accepted as a name too
 * @param mavenArtifact     {@code group:artifact:version} of the jar that holds the resources
 * @param onnxResource      the ONNX export's resource name in that jar
 * @param tokenizerResource the {@code tokenizer.json}'s resource name in that jar
 * @param configJson        the model's {@code config.json} as published on the Hub
 * @param pooling           sentence-transformers' {@code Pooling} mode
 * @param normalize         whether a {@code Normalize} module follows the pooling
 * @param maxSeqLength      {@code sentence_bert_config.json}'s {@code max_seq_length}
 * @param doLowerCase       {@code sentence_bert_config.json}'s {@code do_lower_case}
 * @param prompts           sentence-transformers' named prompts, prepended to a text before tokenizing
 * @param defaultPromptName the prompt applied when none is asked for, or null for none
 */
public record PretrainedEncoder(String name, String hubId, String mavenArtifact, String onnxResource, String tokenizerResource,
                                String configJson, Pooling pooling, boolean normalize, int maxSeqLength, boolean doLowerCase,
                                Map<String, String> prompts, String defaultPromptName) {

    /** The pooling modes of sentence-transformers' {@code Pooling} module that these encoders use. */
    public enum Pooling {
        /** The [CLS] token's state: {@code pooling_mode_cls_token}. */
        CLS,
        /** The mean of the token states under the attention mask: {@code pooling_mode_mean_tokens}. */
        MEAN
    }

    public PretrainedEncoder {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(pooling, "pooling");
        prompts = Collections.unmodifiableMap(new LinkedHashMap<>(prompts));
        if (defaultPromptName != null && !prompts.containsKey(defaultPromptName)) {
            throw new IllegalArgumentException(name + ": default prompt '" + defaultPromptName + "' is not among its prompts " + prompts.keySet());
        }
    }

    /** Whether {@code model} names this encoder: its name or its Hub id, in any case. */
    public boolean isNamed(String model) {
        return model.equalsIgnoreCase(name) || model.equalsIgnoreCase(hubId);
    }

    /**
     * sentence-transformers' files for the directory, by relative path; a path ending in {@code /}
     * is a directory with no files ({@code Normalize} has no parameters).
     */
    public Map<String, String> sentenceTransformersFiles() {
        ObjectMapper json = new ObjectMapper();
        int dim = parse(json, configJson).path("hidden_size").asInt();
        ArrayNode modules = json.createArrayNode();
        modules.addObject().put("idx", 0).put("name", "0").put("path", "").put("type", "sentence_transformers.models.Transformer");
        modules.addObject().put("idx", 1).put("name", "1").put("path", "1_Pooling").put("type", "sentence_transformers.models.Pooling");
        if (normalize) {
            modules.addObject().put("idx", 2).put("name", "2").put("path", "2_Normalize").put("type", "sentence_transformers.models.Normalize");
        }
        ObjectNode poolingConfig = json.createObjectNode()
                .put("word_embedding_dimension", dim)
                .put("pooling_mode_cls_token", pooling == Pooling.CLS)
                .put("pooling_mode_mean_tokens", pooling == Pooling.MEAN)
                .put("pooling_mode_max_tokens", false)
                .put("pooling_mode_mean_sqrt_len_tokens", false);
        ObjectNode bertConfig = json.createObjectNode().put("max_seq_length", maxSeqLength).put("do_lower_case", doLowerCase);
        ObjectNode stConfig = json.createObjectNode();
        ObjectNode promptNode = stConfig.putObject("prompts");
        prompts.forEach(promptNode::put);
        stConfig.put("default_prompt_name", defaultPromptName);
        stConfig.put("similarity_fn_name", "cosine");

        Map<String, String> files = new LinkedHashMap<>();
        files.put("modules.json", pretty(json, modules));
        files.put("sentence_bert_config.json", pretty(json, bertConfig));
        files.put("1_Pooling/config.json", pretty(json, poolingConfig));
        if (normalize) {
            files.put("2_Normalize/", "");
        }
        files.put(SentenceTransformersConfig.FILE, pretty(json, stConfig));
        return files;
    }

    /** The resources this encoder is imported from. */
    List<String> resources() {
        return List.of(onnxResource, tokenizerResource);
    }

    private static JsonNode parse(ObjectMapper json, String text) {
        try {
            return json.readTree(text);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("config.json is not JSON: " + e.getOriginalMessage(), e);
        }
    }

    private static String pretty(ObjectMapper json, Object node) {
        try {
            return json.writerWithDefaultPrettyPrinter().writeValueAsString(node) + "\n";
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
