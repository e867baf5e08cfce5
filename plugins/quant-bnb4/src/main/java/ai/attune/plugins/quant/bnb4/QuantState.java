package ai.attune.plugins.quant.bnb4;

import ai.attune.api.tensor.DType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The non-tensor part of a bitsandbytes {@code QuantState}, which transformers saves as the uint8
 * tensor {@code <weight>.quant_state.bitsandbytes__<quant_type>} holding its JSON: the keys of
 * {@code QuantState.as_dict(packed=True)} in its order, as Python's {@code json.dumps} writes them.
 *
 * @param nestedOffset the mean taken off the absmax under double quantization, else null
 */
record QuantState(String quantType, int blocksize, DType dtype, int[] shape, Float nestedOffset) {
    private static final ObjectMapper JSON = new ObjectMapper();

    boolean nested() {
        return nestedOffset != null;
    }

    long numel() {
        long n = 1;
        for (int d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** The name suffix transformers stores the state under. */
    static String key(String quantType) {
        return "quant_state.bitsandbytes__" + quantType;
    }

    byte[] toJson() {
        StringBuilder s = new StringBuilder("{\"quant_type\": \"").append(quantType).append("\", \"blocksize\": ").append(blocksize)
                .append(", \"dtype\": \"").append(torchName(dtype)).append("\", \"shape\": [")
                .append(Arrays.stream(shape).mapToObj(Integer::toString).collect(Collectors.joining(", "))).append(']');
        if (nested()) {
            s.append(", \"nested_blocksize\": ").append(DoubleQuant.BLOCKSIZE).append(", \"nested_dtype\": \"float32\", \"nested_offset\": ")
                    .append(pythonRepr(nestedOffset));
        }
        return s.append('}').toString().getBytes(StandardCharsets.UTF_8);
    }

    /** Parses the JSON; a missing or ill-typed key is an {@link IllegalArgumentException} naming it. */
    static QuantState parse(byte[] json) {
        JsonNode n;
        try {
            n = JSON.readTree(json);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new IllegalArgumentException("is not JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new IllegalArgumentException("is not JSON: " + e.getMessage());
        }
        if (n == null || !n.isObject()) {
            throw new IllegalArgumentException("is not a JSON object");
        }
        String type = text(n, "quant_type");
        int blocksize = integer(n, "blocksize");
        DType dtype = dtype(n, "dtype");
        JsonNode shapeNode = n.path("shape");
        if (!shapeNode.isArray() || shapeNode.isEmpty()) {
            throw new IllegalArgumentException("key 'shape' must be a list of dimensions, found " + shapeNode);
        }
        int[] shape = new int[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.canConvertToInt() || !d.isIntegralNumber() || d.asInt() <= 0) {
                throw new IllegalArgumentException("key 'shape' must hold positive integers, found " + shapeNode);
            }
            shape[i] = d.asInt();
        }
        Float offset = null;
        if (n.has("nested_offset")) {
            if (integer(n, "nested_blocksize") != DoubleQuant.BLOCKSIZE) {
                throw new IllegalArgumentException("key 'nested_blocksize' is " + n.get("nested_blocksize") + "; bitsandbytes nests in blocks of "
                        + DoubleQuant.BLOCKSIZE);
            }
            if (dtype(n, "nested_dtype") != DType.F32) {
                throw new IllegalArgumentException("key 'nested_dtype' must be float32, found " + n.get("nested_dtype"));
            }
            JsonNode o = n.get("nested_offset");
            if (!o.isNumber() || !Double.isFinite(o.asDouble())) {
                throw new IllegalArgumentException("key 'nested_offset' must be a finite number, found " + o);
            }
            offset = (float) o.asDouble();
        }
        return new QuantState(type, blocksize, dtype, shape, offset);
    }

    private static String text(JsonNode n, String key) {
        JsonNode v = n.path(key);
        if (!v.isTextual()) {
            throw new IllegalArgumentException("key '" + key + "' must be a string, found " + (v.isMissingNode() ? "nothing" : v));
        }
        return v.asText();
    }

    private static int integer(JsonNode n, String key) {
        JsonNode v = n.path(key);
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new IllegalArgumentException("key '" + key + "' must be an integer, found " + (v.isMissingNode() ? "nothing" : v));
        }
        return v.asInt();
    }

    private static DType dtype(JsonNode n, String key) {
        String s = text(n, key);
        return switch (s) {
            case "float32" -> DType.F32;
            case "bfloat16" -> DType.BF16;
            case "float16" -> DType.F16;
            default -> throw new IllegalArgumentException("key '" + key + "' must be float32, bfloat16 or float16, found \"" + s + "\"");
        };
    }

    /** torch's dtype name, as {@code str(dtype).strip("torch.")} leaves it. */
    static String torchName(DType t) {
        return switch (t) {
            case F32 -> "float32";
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            default -> throw new IllegalArgumentException("bitsandbytes quantizes float32, bfloat16 or float16 weights, not " + t);
        };
    }

    /**
     * Python's {@code repr} of the float32 widened to a double, which is what {@code json.dumps}
     * writes for {@code offset.item()}: the shortest digits that round-trip, positional from 1e-4
     * up to 1e16, else {@code d.ddde-XX}.
     */
    static String pythonRepr(float f) {
        double v = f;
        if (v == 0) {
            return Double.doubleToRawLongBits(v) < 0 ? "-0.0" : "0.0";
        }
        BigDecimal d = new BigDecimal(Double.toString(v)).stripTrailingZeros(); // Java's toString gives the shortest digits too
        int exponent = d.precision() - d.scale() - 1;
        if (exponent >= -4 && exponent < 16) {
            String plain = d.toPlainString();
            return plain.contains(".") ? plain : plain + ".0";
        }
        String digits = d.unscaledValue().abs().toString();
        String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        return (v < 0 ? "-" : "") + mantissa + "e" + (exponent < 0 ? "-" : "+") + String.format("%02d", Math.abs(exponent));
    }
}
