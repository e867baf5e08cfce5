package ai.attune.plugins.lora;

import ai.attune.api.nn.LinearLayer;
import ai.attune.api.nn.Module;
import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * PEFT's {@code target_modules}: a list of names, each matching a module whose path equals it or
 * ends with {@code "." + name}; a single string, a regular expression the whole path must match;
 * or {@code "all-linear"}, every linear layer but the output head.
 *
 * @param names the list form, or null
 * @param regex the string form (including "all-linear"), or null
 */
public record TargetModules(List<String> names, String regex) {
    public static final String ALL_LINEAR = "all-linear";
    /** Generous for real patterns (Unsloth's longest are a few hundred characters); a 360,000-character one took 36 s to compile. */
    static final int MAX_REGEX = 4096;

    public TargetModules {
        if ((names == null) == (regex == null)) {
            throw new IllegalArgumentException("target_modules must be either a list of module names or one regular expression");
        }
        if (names != null) {
            if (names.isEmpty()) {
                throw new IllegalArgumentException("target_modules is an empty list: name the modules to adapt, e.g. [q_proj, v_proj]");
            }
            for (String n : names) {
                if (n == null || n.isBlank()) {
                    throw new IllegalArgumentException("target_modules " + names + " holds an empty name");
                }
            }
            names = List.copyOf(names);
        } else if (!isAllLinear(regex)) {
            if (regex.length() > MAX_REGEX) {
                throw new IllegalArgumentException("target_modules is a regular expression of " + regex.length() + " characters; at most "
                        + MAX_REGEX + " (module-name patterns are short, and compiling a long literal takes quadratic time)");
            }
            try {
                Pattern.compile(regex);
            } catch (PatternSyntaxException e) {
                throw new IllegalArgumentException("target_modules '" + regex + "' is not a valid regular expression: "
                        + e.getDescription(), e);
            }
        }
    }

    public static TargetModules of(String... names) {
        return new TargetModules(List.of(names), null);
    }

    public static TargetModules regex(String pattern) {
        return new TargetModules(null, pattern);
    }

    /** From JSON or YAML: a string or a list of strings. */
    @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
    public static TargetModules fromJson(Object value) {
        if (value instanceof String s) {
            return regex(s);
        }
        if (value instanceof List<?> list) {
            List<String> names = new ArrayList<>();
            for (Object o : list) {
                if (!(o instanceof String s)) {
                    throw new IllegalArgumentException("target_modules entries must be module names, found " + o);
                }
                names.add(s);
            }
            return new TargetModules(names, null);
        }
        throw new IllegalArgumentException("target_modules must be a list of module names or a regular expression string, found " + value);
    }

    /** As written in {@code adapter_config.json}: the list or the string. */
    @JsonValue
    public Object json() {
        return names != null ? names : regex;
    }

    public boolean allLinear() {
        return regex != null && isAllLinear(regex);
    }

    private static boolean isAllLinear(String s) {
        return s.toLowerCase(Locale.ROOT).equals(ALL_LINEAR);
    }

    /**
     * The linear layers of {@code model} these targets select, by path in module order.
     *
     * @throws IllegalArgumentException when a list entry or the regex matches nothing, or a matched
     *                                  module is not a linear layer
     */
    public Map<String, LinearLayer> select(Module model) {
        Map<String, LinearLayer> out = new LinkedHashMap<>();
        Pattern pattern = regex == null || allLinear() ? null : Pattern.compile(regex);
        List<String> unmatched = names == null ? new ArrayList<>() : new ArrayList<>(new java.util.LinkedHashSet<>(names));
        String example = null;
        for (Map.Entry<String, Module> e : model.namedModules().entrySet()) {
            String path = e.getKey();
            Module m = e.getValue();
            if (m instanceof LinearLayer && example == null) {
                example = path;
            }
            boolean hit;
            if (allLinear()) {
                hit = m instanceof LinearLayer && !isOutputHead(path);
            } else if (pattern != null) {
                hit = !path.isEmpty() && pattern.matcher(path).matches();
            } else {
                hit = false;
                for (String n : names) {
                    if (path.equals(n) || path.endsWith("." + n)) {
                        unmatched.remove(n);
                        hit = true;
                    }
                }
            }
            if (!hit) {
                continue;
            }
            if (!(m instanceof LinearLayer layer)) {
                throw new IllegalArgumentException("target_modules " + this + " selects '" + path + "', a "
                        + m.getClass().getSimpleName() + ": LoRA adapts linear layers only; name its projections instead");
            }
            out.put(path, layer);
        }
        String hint = example == null ? "" : " (linear layers have paths like '" + example + "')";
        if (out.isEmpty()) {
            throw new IllegalArgumentException("target_modules " + this + " matched no module of the model" + hint);
        }
        if (!unmatched.isEmpty()) {
            throw new IllegalArgumentException("target_modules " + this + ": " + unmatched + " matched no module of the model" + hint);
        }
        return out;
    }

    /** The output head: excluded from all-linear as PEFT excludes {@code get_output_embeddings()}. */
    private static boolean isOutputHead(String path) {
        return path.equals("lm_head") || path.endsWith(".lm_head");
    }

    @Override
    public String toString() {
        return names != null ? names.toString() : "'" + regex + "'";
    }
}
