package ai.attune.plugins.lora;

import ai.attune.api.model.ModelJson;
import ai.attune.api.model.ModelLoadException;
import ai.attune.api.model.WeightUpdate;

import ai.attune.api.autograd.F;
import ai.attune.api.autograd.GradMode;
import ai.attune.api.autograd.Ops;
import ai.attune.api.autograd.Views;
import ai.attune.api.io.SafetensorsFile;
import ai.attune.api.nn.LinearLayer;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.tensor.BinaryOp;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
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

    /**
     * Adds every adapted layer's update into the base weights of {@code model}. A 4-bit base weight
     * cannot take it: there the update runs beside the layer, unmerged, as PEFT keeps LoRA on a
     * 4-bit model.
     */
    public void mergeInto(Module model) throws IOException {
        Path file = dir.resolve("adapter_model.safetensors");
        Map<String, Parameter> params = model.namedParameters();
        Map<String, Module> modules = model.namedModules();
        try (Scope tmp = Scope.open("lora-merge"); GradMode.Region ng = GradMode.noGrad()) {
            for (Update u : updates()) {
                Parameter target = params.get(u.weight());
                if (target == null && modules.get(u.weight().replaceAll("\\.weight$", "")) instanceof LinearLayer l && l.weightSource() != null) {
                    addUnmerged(l, u, file);
                    continue;
                }
                if (target == null) {
                    throw new ModelLoadException(file, "tensor '" + PREFIX + u.weight().replaceAll("\\.weight$", "")
                            + ".lora_A.weight' adapts '" + u.weight().replaceAll("\\.weight$", "") + "', which the base model does not have");
                }
                Tensor w = target.value();
                Tensor a = Tensors.of(w.backend(), u.a(), u.r(), u.in()); // [r, in]
                Tensor b = Tensors.of(w.backend(), u.b(), u.out(), u.r()); // [out, r]
                Tensor delta = Ops.mulScalar(Ops.matmul(b, a), u.scaling()); // [out, in]
                if (u.fanInFanOut()) {
                    delta = Views.transpose(delta, 0, 1); // [in, out], as Conv1D stores its weight
                }
                if (!java.util.Arrays.equals(delta.shape(), w.shape())) {
                    throw new ModelLoadException(file, "LoRA update of '" + u.weight() + "' has shape " + java.util.Arrays.toString(delta.shape())
                            + " but the weight is " + java.util.Arrays.toString(w.shape()) + (u.fanInFanOut() ? "" : " (fan_in_fan_out?)"));
                }
                w.backend().binary(BinaryOp.ADD, w, delta, w);
            }
        }
    }

    /** {@code y + scaling · (x A^T) B^T} beside a layer whose base weight is quantized; A and B live as long as the layer. */
    private static void addUnmerged(LinearLayer layer, Update u, Path file) throws ModelLoadException {
        if (layer.inFeatures() != u.in() || layer.outFeatures() != u.out()) {
            throw new ModelLoadException(file, "LoRA update of '" + u.weight() + "' is [" + u.out() + ", " + u.in() + "] but the layer maps "
                    + layer.inFeatures() + " to " + layer.outFeatures());
        }
        Tensor placeholder = layer.weight().value();
        Scope keep = placeholder.storage().scope();
        Tensor a = keep.within(() -> Tensors.of(placeholder.backend(), u.a(), u.r(), u.in())); // [r, in]
        Tensor b = keep.within(() -> Tensors.of(placeholder.backend(), u.b(), u.out(), u.r())); // [out, r]
        double scaling = u.scaling();
        layer.addAdapter((x, y) -> Ops.add(y, Ops.mulScalar(F.linear(F.linear(x, a, null), b, null), scaling)));
    }

    /**
     * One adapted weight's update {@code scaling · B @ A}, kept factored so a caller can add it to a
     * stored weight element by element (a streamed merge) without forming the [out, in] product.
     *
     * @param weight      the base tensor it adds to, e.g. {@code model.layers.0.self_attn.q_proj.weight}
     * @param a           lora_A, [r, in] row-major
     * @param b           lora_B, [out, r] row-major
     * @param fanInFanOut the base stores the weight [in, out] (GPT-2's Conv1D)
     */
    public record Update(String weight, int r, int in, int out, float[] a, float[] b, double scaling, boolean fanInFanOut) implements WeightUpdate {
        /** The stored weight's shape. */
        @Override
        public long[] storedShape() {
            return fanInFanOut ? new long[] {in, out} : new long[] {out, in};
        }

        /** Adds the update to stored elements {@code offset..offset+n} (row-major in {@link #storedShape()}). */
        @Override
        public void addTo(long offset, float[] chunk, int n) {
            int cols = fanInFanOut ? out : in;
            for (int e = 0; e < n; e++) {
                long idx = offset + e;
                int row = (int) (idx / cols);
                int col = (int) (idx % cols);
                int o = fanInFanOut ? col : row;
                int c = fanInFanOut ? row : col;
                float acc = 0f;
                for (int k = 0; k < r; k++) {
                    acc += b[o * r + k] * a[k * in + c];
                }
                chunk[e] += acc * (float) scaling;
            }
        }
    }

    /** Every adapted weight's update, read from {@code adapter_model.safetensors}, in f32. */
    public java.util.List<Update> updates() throws IOException {
        Path file = dir.resolve("adapter_model.safetensors");
        double alpha = config.path("lora_alpha").asDouble(8);
        boolean rslora = config.path("use_rslora").asBoolean(false);
        boolean fanInFanOut = config.path("fan_in_fan_out").asBoolean(false);
        java.util.List<Update> out = new java.util.ArrayList<>();
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
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
                long[] as = st.info(key).shape();
                long[] bs = st.info(bKey).shape();
                if (as.length != 2 || bs.length != 2 || as[0] != bs[1]) {
                    throw new ModelLoadException(file, "'" + key + "' " + java.util.Arrays.toString(as) + " and '" + bKey + "' "
                            + java.util.Arrays.toString(bs) + " are not [r, in] and [out, r]");
                }
                int r = (int) as[0];
                double scaling = (rslora ? alpha / Math.sqrt(r) : alpha / r) * patternAlpha(path, alpha) / alpha;
                out.add(new Update(path + ".weight", r, (int) as[1], (int) bs[0], floats(st, key), floats(st, bKey), scaling, fanInFanOut));
            }
        }
        return out;
    }

    private static float[] floats(SafetensorsFile st, String key) throws IOException {
        var info = st.info(key);
        var data = st.data(key);
        float[] f = new float[(int) info.elementCount()];
        for (int i = 0; i < f.length; i++) {
            f[i] = switch (info.dtype()) {
                case F32 -> data.get(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, 4L * i);
                case BF16 -> DType.bf16ToFloat(data.get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 2L * i));
                case F16 -> Float.float16ToFloat(data.get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 2L * i));
                default -> throw new ModelLoadException(st.path(), "tensor '" + key + "' has dtype " + info.dtype() + ", not a float type");
            };
        }
        return f;
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

}
