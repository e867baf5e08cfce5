package ai.attune.runtime.train;

import ai.attune.api.io.TextFile;
import ai.attune.api.optim.LrSchedule;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Collection;
import java.util.Deque;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Reads a recipe YAML, applies {@code --set a.b=c} overrides and binds it strictly: an unknown
 * key, a wrong type or a missing required key is a {@link RecipeException} naming the file and the
 * key path, with a "did you mean" when a known key is close.
 */
public final class RecipeLoader {
    static final Set<String> TOP_LEVEL = Set.of("model", "method", "quantization", "data", "train", "output");
    /**
     * A recipe is a few kilobytes. Work on a long value can grow faster than its length (the YAML
     * scanner takes seconds per megabyte, compiling a long target_modules pattern is quadratic),
     * so a larger file, or lab-server body, is refused before it is parsed.
     */
    public static final int MAX_BYTES = 1 << 16;
    /** Recipe keys nest three or four deep (train.optimizer.betas); YAML itself stops at 50 levels. */
    static final int MAX_KEY_DEPTH = 16;

    private final ObjectMapper yaml = strict(new ObjectMapper(new YAMLFactory()));
    private final ObjectMapper json = strict(new ObjectMapper());

    private static ObjectMapper strict(ObjectMapper m) {
        return m.enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT);
    }

    /** The recipe tree with overrides applied, before binding (also what a run directory stores). */
    public ObjectNode read(Path file, List<String> overrides) throws IOException {
        JsonNode root;
        try {
            if (Files.size(file) > MAX_BYTES) {
                throw new RecipeException(file.getFileName() + ": " + Files.size(file) + " bytes is too large for a recipe (at most "
                        + MAX_BYTES + "); training data belongs in the file data.path names");
            }
            root = yaml.readTree(TextFile.read(file));
        } catch (NoSuchFileException e) {
            throw new RecipeException(file + ": recipe not found");
        } catch (TextFile.NotUtf8Exception e) {
            throw new RecipeException(file.getFileName() + ":" + e.line() + ": not UTF-8 text");
        } catch (JsonProcessingException e) {
            throw new RecipeException(file.getFileName() + ": not valid YAML: " + YamlError.describe(e));
        }
        if (!(root instanceof ObjectNode obj)) {
            throw new RecipeException(file.getFileName() + ": a recipe is a YAML mapping of keys (model, method, data, train, output)");
        }
        override(obj, overrides);
        return obj;
    }

    /** Applies {@code --set key.path=value} overrides (values are YAML) to a tree in place. */
    public void override(ObjectNode root, List<String> overrides) {
        for (String o : overrides) {
            set(root, o);
        }
    }

    /**
     * Binds a recipe tree; {@code methodBlocks} maps each registered method to the top-level key of
     * its config block (its name, or the block it shares: {@link ai.attune.api.spi.Method#configKey}).
     * Other methods' blocks may stay (a recipe switched with {@code --set method=full} keeps its
     * {@code lora:}); a block named after a method that reads another is refused rather than ignored.
     */
    public Recipe bind(Path file, ObjectNode root, Map<String, String> methodBlocks) {
        String where = file.getFileName().toString();
        checkFinite(root, where);
        Set<String> allowed = new LinkedHashSet<>(TOP_LEVEL);
        allowed.addAll(methodBlocks.keySet());
        allowed.addAll(methodBlocks.values());
        checkKeys(root, allowed, where);
        String method = text(root, "method", where, "full");
        if (!methodBlocks.containsKey(method)) {
            throw new RecipeException(where + ": method '" + method + "' is not installed; installed methods: " + List.copyOf(methodBlocks.keySet()));
        }
        String block = methodBlocks.get(method);
        if (!block.equals(method) && root.has(method)) { // the block a reader would look for first, which the method never reads
            throw new RecipeException(where + ": key '" + method + "' is not read; method " + method + " reads its config from '" + block + "'");
        }
        Path model = path(root, "model", where);
        Path output = path(root, "output", where);
        Recipe.Data data = bindBlock(root, "data", Recipe.Data.class, where);
        Recipe.Train train = bindBlock(root, "train", Recipe.Train.class, where);
        validate(where, data, train);
        JsonNode methodBlock = root.get(block);
        return new Recipe(file, model, method, block, methodBlock == null ? json.createObjectNode() : methodBlock, data, train, output,
                root.get("quantization"));
    }

    /** Each installed language-model method with its config block's key, for {@link #bind}. */
    public static Map<String, String> methodBlocks(ai.attune.runtime.host.PluginCatalog catalog) {
        Map<String, String> out = new java.util.LinkedHashMap<>();
        for (ai.attune.runtime.host.PluginCatalog.Entry e : catalog.list(ai.attune.api.spi.Kind.METHOD)) {
            String key = catalog.find(ai.attune.api.spi.Kind.METHOD, e.name(), ai.attune.api.spi.Method.class)
                    .map(m -> ((ai.attune.api.spi.Method<?>) m).configKey()).orElse(null);
            out.put(e.name(), key != null ? key : e.name());
        }
        return out;
    }

    /**
     * Refuses NaN and infinities (YAML's .nan and .inf, or 1e400) anywhere in a recipe: no key takes
     * them, and the run directory's copy would read back as a different run.
     */
    public static void checkFinite(JsonNode root, String where) {
        record At(String path, JsonNode node) {}
        Deque<At> todo = new ArrayDeque<>(List.of(new At("", root)));
        while (!todo.isEmpty()) {
            At at = todo.pop();
            if (at.node().isFloatingPointNumber() && !Double.isFinite(at.node().doubleValue())) {
                throw new RecipeException(where + ": key '" + at.path() + "' is " + at.node().asText() + "; a recipe's numbers must be finite");
            }
            if (at.node().isObject()) {
                at.node().properties().forEach(e -> todo.push(new At(at.path().isEmpty() ? e.getKey() : at.path() + "." + e.getKey(), e.getValue())));
            } else if (at.node().isArray()) {
                for (int i = 0; i < at.node().size(); i++) {
                    todo.push(new At(at.path() + "[" + i + "]", at.node().get(i)));
                }
            }
        }
    }

    /** Refuses a top-level key outside {@code allowed}, suggesting the nearest. */
    public void checkKeys(ObjectNode root, Set<String> allowed, String where) {
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!allowed.contains(key)) {
                throw new RecipeException(where + ": unknown key '" + key + "'" + didYouMean(key, allowed));
            }
        }
    }

    /** Binds a plugin's config block over its defaults, strictly, naming keys by their recipe path. */
    public <C> C bindConfig(JsonNode block, C defaults, Class<C> type, String path, String where) {
        ObjectNode merged = json.valueToTree(defaults);
        if (block != null && !block.isNull()) {
            if (!block.isObject()) {
                throw new RecipeException(where + ": '" + path + "' must be a mapping, found " + block);
            }
            block.fields().forEachRemaining(e -> merged.set(e.getKey(), e.getValue()));
        }
        try {
            return json.treeToValue(merged, type);
        } catch (UnrecognizedPropertyException e) {
            List<String> known = e.getKnownPropertyIds().stream().map(Object::toString).toList();
            throw new RecipeException(where + ": unknown key '" + path + "." + e.getPropertyName() + "'"
                    + didYouMean(e.getPropertyName(), known) + "; known keys: " + known);
        } catch (JsonMappingException e) {
            // A config record that refuses a value (r <= 0, ...) says why in its own words.
            String why = e.getCause() instanceof IllegalArgumentException iae ? iae.getMessage() : e.getOriginalMessage();
            throw new RecipeException(where + ": " + path + keyPath(e) + ": " + firstLine(why));
        } catch (IllegalArgumentException | JsonProcessingException e) {
            throw new RecipeException(where + ": " + path + ": " + firstLine(e.getMessage()));
        }
    }

    /** Binds the required block {@code key} strictly to {@code type}, naming unknown keys and type problems by their path. */
    public <T> T bindBlock(ObjectNode root, String key, Class<T> type, String where) {
        JsonNode block = root.get(key);
        if (block == null || block.isNull()) {
            throw new RecipeException(where + ": missing key '" + key + "'");
        }
        try {
            return json.treeToValue(block, type);
        } catch (UnrecognizedPropertyException e) {
            List<String> known = e.getKnownPropertyIds().stream().map(Object::toString).toList();
            throw new RecipeException(where + ": unknown key '" + key + keyPath(e) + "'" + didYouMean(e.getPropertyName(), known));
        } catch (JsonMappingException e) {
            throw new RecipeException(where + ": key '" + key + keyPath(e) + "' " + typeProblem(e));
        } catch (JsonProcessingException e) {
            throw new RecipeException(where + ": key '" + key + "': " + firstLine(e.getOriginalMessage()));
        }
    }

    private static void validate(String where, Recipe.Data data, Recipe.Train train) {
        if (data.format() == null) {
            throw new RecipeException(where + ": missing key 'data.format' (an installed data format: 'attune plugins' lists them)");
        }
        if (data.path() == null) {
            throw new RecipeException(where + ": missing key 'data.path'");
        }
        if (!Files.isRegularFile(data.path())) {
            throw new RecipeException(where + ": data.path '" + data.path() + "' is not a file");
        }
        for (Path p : new Path[] {data.evalPath(), data.generalEvalPath()}) {
            if (p != null && !Files.isRegularFile(p)) {
                throw new RecipeException(where + ": data file '" + p + "' is not a file");
            }
        }
        validateTrain(where, train);
    }

    /** Checks a {@code train:} block on its own: what a run over in-memory examples needs of it too. */
    static void validateTrain(String where, Recipe.Train train) {
        if (train.ranks() < 1) {
            throw new RecipeException(where + ": train.nproc_per_node must be at least 1, got " + train.ranks());
        }
        if (train.microBatch() <= 0 || train.accumulation() <= 0) {
            throw new RecipeException(where + ": train.micro_batch_size and train.gradient_accumulation_steps must be positive");
        }
        if ((train.maxSteps() == null) == (train.epochs() == null)) {
            throw new RecipeException(where + ": give exactly one of train.max_steps and train.epochs");
        }
        if (train.maxSteps() != null && train.maxSteps() <= 0 || train.epochs() != null && !(train.epochs() > 0)) {
            throw new RecipeException(where + ": train.max_steps / train.epochs must be positive");
        }
        if (train.optimizer() == null || !train.optimizer().hasNonNull("name")) {
            throw new RecipeException(where + ": train.optimizer needs a name and an lr, e.g. {name: adamw, lr: 2e-4}");
        }
        // A null or absent lr is judged once the optimizer is bound: only one that computes its own step size takes it.
        JsonNode lr = train.optimizer().get("lr");
        if (lr != null && !lr.isNull() && (!lr.isNumber() || !(lr.asDouble() >= 0) || Double.isInfinite(lr.asDouble()))) {
            throw new RecipeException(where + ": key 'train.optimizer.lr' must be a finite number >= 0, found " + lr);
        }
        if (train.schedule() != null && train.schedule().name() != null && !LrSchedule.NAMES.contains(train.schedule().name())) {
            throw new RecipeException(where + ": train.schedule.name '" + train.schedule().name() + "' is not one of " + LrSchedule.NAMES);
        }
        if (train.schedule() != null && train.schedule().warmupSteps() != null && train.schedule().warmupSteps() < 0) {
            throw new RecipeException(where + ": train.schedule.warmup_steps must be >= 0, found " + train.schedule().warmupSteps());
        }
        if ((long) train.microBatch() * train.accumulation() > Integer.MAX_VALUE) {
            throw new RecipeException(where + ": train.micro_batch_size times train.gradient_accumulation_steps is more rows than a step can hold");
        }
        if (!Set.of("fp32", "bf16", "fp16").contains(train.precisionOrFp32())) {
            throw new RecipeException(where + ": train.precision must be fp32, bf16 or fp16, got '" + train.precision() + "'");
        }
        if (!Set.of("jvm", "torch", "auto").contains(train.backendOrJvm())) {
            throw new RecipeException(where + ": train.backend must be jvm, torch or auto, got '" + train.backend() + "'");
        }
        if (!(train.clip() >= 0) || Double.isInfinite(train.clip())) {
            throw new RecipeException(where + ": train.max_grad_norm must be a finite number >= 0 (0 disables clipping)");
        }
    }

    private void set(ObjectNode root, String override) {
        if (override.length() > MAX_BYTES) {
            // As for a recipe file: parsing a 2,000,000-digit number took seconds.
            throw new RecipeException("--set '" + override.substring(0, 40) + "...': " + override.length() + " characters is too long for an override");
        }
        int eq = override.indexOf('=');
        if (eq <= 0) {
            throw new RecipeException("--set '" + override + "': expected key.path=value");
        }
        String[] path = override.substring(0, eq).split("\\.", -1);
        if (Arrays.stream(path).anyMatch(String::isBlank)) {
            throw new RecipeException("--set '" + override + "': expected key.path=value, with a name between every two dots");
        }
        if (path.length > MAX_KEY_DEPTH) {
            // A 10,000-name path built a tree too deep to print in an error message, or to bind.
            throw new RecipeException("--set '" + override + "': a key path has at most " + MAX_KEY_DEPTH + " names, this one " + path.length);
        }
        JsonNode value;
        try {
            value = yaml.readTree(override.substring(eq + 1));
        } catch (JsonProcessingException e) {
            throw new RecipeException("--set '" + override + "': the value is not valid YAML: " + YamlError.describe(e));
        }
        ObjectNode node = root;
        for (int i = 0; i < path.length - 1; i++) {
            JsonNode child = node.get(path[i]);
            if (!(child instanceof ObjectNode)) {
                child = node.putObject(path[i]);
            }
            node = (ObjectNode) child;
        }
        // An empty value ("--set k=") parses to no document at all: YAML reads "k:" as null, and so does this.
        node.set(path[path.length - 1], value == null || value.isMissingNode() ? json.nullNode() : value);
    }

    /** The value of a required top-level key. */
    public static JsonNode required(ObjectNode root, String key, String where) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull() || n.asText().isBlank()) {
            throw new RecipeException(where + ": missing key '" + key + "'");
        }
        return n;
    }

    /** A required top-level key that names a file or directory. */
    public static Path path(ObjectNode root, String key, String where) {
        String text = required(root, key, where).asText();
        try {
            return Path.of(text);
        } catch (InvalidPathException e) {
            throw new RecipeException(where + ": key '" + key + "' is not a path: " + e.getReason());
        }
    }

    private static String text(ObjectNode root, String key, String where, String fallback) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return fallback;
        }
        if (!n.isTextual()) {
            throw new RecipeException(where + ": key '" + key + "' must be a string, found " + n);
        }
        return n.asText();
    }

    private static String keyPath(JsonMappingException e) {
        return e.getPath().stream().map(r -> r.getFieldName() != null ? "." + r.getFieldName() : "[" + r.getIndex() + "]")
                .collect(Collectors.joining());
    }

    private static String typeProblem(JsonMappingException e) {
        String m = firstLine(e.getOriginalMessage());
        if (m.contains("Cannot deserialize value of type `java.lang.Integer`") || m.contains("`int`")) {
            return "must be an integer";
        }
        if (m.contains("`java.lang.Double`") || m.contains("`double`")) {
            return "must be a number";
        }
        if (m.contains("`java.lang.Boolean`") || m.contains("`boolean`")) {
            return "must be true or false";
        }
        return "is invalid: " + m;
    }

    static String firstLine(String s) {
        return s == null ? "" : s.lines().findFirst().orElse("");
    }

    /** " (did you mean 'x'?)" for the closest known key within edit distance 2, or one the key begins; else "". */
    public static String didYouMean(String key, Collection<String> known) {
        String best = null;
        int bestDist = 3;
        for (String k : known) {
            int d = distance(key, k);
            if (d < bestDist) {
                best = k;
                bestDist = d;
            }
        }
        if (best == null && key.length() >= 3) {
            best = known.stream().filter(k -> k.startsWith(key)).findFirst().orElse(null);
        }
        return best == null ? "" : " (did you mean '" + best + "'?)";
    }

    /** Levenshtein distance. */
    static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    /** The tree as YAML, for the run directory's copy of the recipe as run. */
    public String toYaml(ObjectNode root) throws JsonProcessingException {
        return yaml.writeValueAsString(root);
    }
}
