package ai.attune.runtime.merge;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A parameter's value in a merge config, as mergekit's {@code ParameterSetting} evaluates it for one
 * tensor: a scalar; a gradient, a list of numbers interpolated at the tensor's depth {@code t}; or a
 * list of {@code {value, filter}} conditions, the first whose filter is absent, {@code "*"} or a
 * substring of the tensor's name giving the value. No match gives {@code null}, and the lookup
 * moves on to the next level (the model's parameters, then the merge's, then the default).
 */
final class ParameterSetting {
    private ParameterSetting() {}

    /** Checks a setting's shape; {@code where} names its key path for the error. */
    static void validate(JsonNode v, String where) {
        if (v.isNumber() || v.isBoolean() || v.isTextual()) {
            return;
        }
        if (v.isObject()) {
            condition(v, where);
            return;
        }
        if (v.isArray() && !v.isEmpty()) {
            boolean scalars = true;
            boolean conditions = true;
            for (JsonNode e : v) {
                scalars &= e.isNumber() || e.isBoolean() || e.isTextual();
                conditions &= e.isObject();
            }
            if (scalars) {
                return;
            }
            if (conditions) {
                int i = 0;
                for (JsonNode e : v) {
                    condition(e, where + "[" + i++ + "]");
                }
                return;
            }
        }
        throw new MergeException(where + ": expected a number, a list of numbers (a gradient) or a list of {value, filter}, found "
                + (v.isNull() ? "nothing" : v.getNodeType().name().toLowerCase() + " " + abbreviate(v)));
    }

    private static void condition(JsonNode c, String where) {
        for (var it = c.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!k.equals("value") && !k.equals("filter")) {
                throw new MergeException(where + ": unknown key '" + k + "' in a condition; it takes value and filter");
            }
        }
        if (!c.has("value")) {
            throw new MergeException(where + ": a condition needs a value");
        }
        if (c.has("filter") && !c.get("filter").isTextual() && !c.get("filter").isNull()) {
            throw new MergeException(where + ".filter: expected a string");
        }
        JsonNode value = c.get("value");
        if (value.isObject() || value.isArray() && value.size() > 0 && value.get(0).isObject()) {
            throw new MergeException(where + ".value: expected a number or a list of numbers");
        }
        validate(value, where + ".value");
    }

    /** The value for {@code tensor} at depth {@code t}: a Double, Boolean or String, or null when no condition matches. */
    static Object evaluate(JsonNode v, String tensor, double t) {
        if (v.isNumber()) {
            return v.doubleValue();
        }
        if (v.isBoolean()) {
            return v.booleanValue();
        }
        if (v.isTextual()) {
            return v.textValue();
        }
        if (v.isObject()) {
            return matches(v, tensor) ? evaluate(v.get("value"), tensor, t) : null;
        }
        boolean numbers = true;
        for (JsonNode e : v) {
            numbers &= e.isNumber();
        }
        if (numbers) {
            double scaled = t * (v.size() - 1);
            int i0 = (int) scaled;
            int i1 = Math.min(v.size() - 1, i0 + 1);
            double frac = scaled - i0;
            return (1 - frac) * v.get(i0).doubleValue() + frac * v.get(i1).doubleValue();
        }
        if (!v.get(0).isObject()) {
            return evaluate(v.get((int) (t * (v.size() - 1))), tensor, t);
        }
        for (JsonNode c : v) {
            if (matches(c, tensor)) {
                return evaluate(c.get("value"), tensor, t);
            }
        }
        return null;
    }

    private static boolean matches(JsonNode condition, String tensor) {
        JsonNode f = condition.get("filter");
        return f == null || f.isNull() || f.asText().equals("*") || tensor.contains(f.asText());
    }

    private static String abbreviate(JsonNode v) {
        String s = v.toString();
        return s.length() > 40 ? s.substring(0, 40) + "…" : s;
    }
}
