package ai.attune.api.model;

import ai.attune.api.autograd.GradMode;
import ai.attune.api.autograd.Ops;
import ai.attune.api.autograd.Views;
import ai.attune.api.io.SafetensorsFile;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.tensor.BinaryOp;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A PEFT LoRA adapter directory ({@code adapter_config.json} + {@code adapter_model.safetensors}),
 * merged into a base model's weights: {@code W += scaling * B @ A} with scaling
 * {@code lora_alpha / r} ({@code lora_alpha / sqrt(r)} with {@code use_rslora}), transposed for
 * {@code fan_in_fan_out} layers (GPT-2's Conv1D, stored [in, out]). Keys are
 * {@code base_model.model.<module path>.lora_A.weight} [r, in] and {@code .lora_B.weight} [out, r].
 */
public final class LoraAdapter {
    private static final String PREFIX = "base_model.model.";

    private final Path dir;
    private final JsonNode config;

    private LoraAdapter(Path dir, JsonNode config) {
        this.dir = dir;
        this.config = config;
    }

    public static LoraAdapter read(Path dir) throws IOException {
        Path cfg = dir.resolve("adapter_config.json");
        JsonNode node;
        try {
            node = ModelJson.readObject(cfg);
        } catch (NoSuchFileException e) {
            throw new ModelLoadException(cfg, "not found: " + dir + " is not a PEFT adapter directory");
        }
        String type = node.path("peft_type").asText("LORA");
        if (!type.equals("LORA")) {
            throw new ModelLoadException(cfg, "peft_type '" + type + "' is not a LoRA adapter");
        }
        JsonNode r = node.path("r");
        if (!r.isIntegralNumber() || !r.canConvertToInt() || r.intValue() <= 0) {
            throw new ModelLoadException(cfg, "key 'r' must be a positive integer, found " + r);
        }
        if (!node.path("lora_alpha").isMissingNode() && !node.path("lora_alpha").isNull() && !node.path("lora_alpha").isNumber()) {
            throw new ModelLoadException(cfg, "key 'lora_alpha' must be a number, found " + node.path("lora_alpha"));
        }
        for (String flag : new String[] {"use_rslora", "fan_in_fan_out"}) {
            JsonNode f = node.path(flag);
            if (!f.isMissingNode() && !f.isNull() && !f.isBoolean()) {
                throw new ModelLoadException(cfg, "key '" + flag + "' must be true or false, found " + f);
            }
        }
        JsonNode patterns = node.path("alpha_pattern");
        if (!patterns.isMissingNode() && !patterns.isNull() && !patterns.isObject()) {
            throw new ModelLoadException(cfg, "key 'alpha_pattern' must map module names to alphas, found " + patterns);
        }
        for (var it = patterns.properties().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (!e.getValue().isNumber()) {
                throw new ModelLoadException(cfg, "alpha_pattern '" + e.getKey() + "' must be a number, found " + e.getValue());
            }
            try {
                Pattern.compile(e.getKey());
            } catch (PatternSyntaxException bad) {
                throw new ModelLoadException(cfg, "alpha_pattern key '" + e.getKey() + "' is not a regular expression: " + bad.getDescription());
            }
        }
        return new LoraAdapter(dir, node);
    }

    /** Adds every adapted layer's update into the base weights of {@code model}. */
    public void mergeInto(Module model) throws IOException {
        Path file = dir.resolve("adapter_model.safetensors");
        Map<String, Parameter> params = model.namedParameters();
        double alpha = config.path("lora_alpha").asDouble(8);
        boolean rslora = config.path("use_rslora").asBoolean(false);
        boolean fanInFanOut = config.path("fan_in_fan_out").asBoolean(false);
        try (SafetensorsFile st = SafetensorsFile.open(file); Scope tmp = Scope.open("lora-merge");
             GradMode.Region ng = GradMode.noGrad()) {
            for (String key : st.names()) {
                if (key.endsWith(".lora_B.weight")) {
                    continue;
                }
                if (!key.startsWith(PREFIX) || !key.endsWith(".lora_A.weight")) {
                    throw new ModelLoadException(file, "tensor '" + key + "' is not a LoRA A/B weight this loader understands");
                }
                String path = key.substring(PREFIX.length(), key.length() - ".lora_A.weight".length());
                String bKey = PREFIX + path + ".lora_B.weight";
                if (!st.contains(bKey)) {
                    throw new ModelLoadException(file, "tensor '" + key + "' has no matching '" + bKey + "'");
                }
                Parameter target = params.get(path + ".weight");
                if (target == null) {
                    throw new ModelLoadException(file, "tensor '" + key + "' adapts '" + path + "', which the base model does not have");
                }
                Tensor w = target.value();
                Tensor a = load(st, key, tmp, w); // [r, in]
                Tensor b = load(st, bKey, tmp, w); // [out, r]
                int r = a.size(0);
                double scaling = (rslora ? alpha / Math.sqrt(r) : alpha / r) * patternAlpha(path, alpha) / alpha;
                Tensor delta = Ops.mulScalar(Ops.matmul(b, a), scaling); // [out, in]
                if (fanInFanOut) {
                    delta = Views.transpose(delta, 0, 1); // [in, out], as Conv1D stores its weight
                }
                if (!java.util.Arrays.equals(delta.shape(), w.shape())) {
                    throw new ModelLoadException(file, "LoRA update of '" + path + "' has shape " + java.util.Arrays.toString(delta.shape())
                            + " but the weight is " + java.util.Arrays.toString(w.shape()) + (fanInFanOut ? "" : " (fan_in_fan_out?)"));
                }
                w.backend().binary(BinaryOp.ADD, w, delta, w);
            }
        }
    }

    /** {@code alpha_pattern}: a per-module alpha whose key matches the end of the module path. */
    private double patternAlpha(String path, double alpha) {
        JsonNode patterns = config.path("alpha_pattern");
        for (var it = patterns.properties().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (path.equals(e.getKey()) || path.endsWith("." + e.getKey()) || path.matches("(.*\\.)?" + e.getKey())) {
                return e.getValue().asDouble(alpha);
            }
        }
        return alpha;
    }

    private static Tensor load(SafetensorsFile st, String key, Scope scope, Tensor like) throws IOException {
        long[] s = st.info(key).shape();
        if (s.length != 2) {
            throw new ModelLoadException(st.path(), "tensor '" + key + "' must be 2-D, found shape " + java.util.Arrays.toString(s));
        }
        Tensor t = like.backend().zeros(DType.F32, new int[] {(int) s[0], (int) s[1]}, scope);
        Weights.copyInto(st, key, t);
        return t;
    }
}
