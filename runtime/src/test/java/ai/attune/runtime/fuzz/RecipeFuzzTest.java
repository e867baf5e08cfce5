package ai.attune.runtime.fuzz;

import ai.attune.api.spi.ClassifierMethod;
import ai.attune.api.spi.Kind;
import ai.attune.runtime.classify.ClassifierRecipe;
import ai.attune.runtime.classify.ClassifierRun;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.train.RecipeException;
import ai.attune.runtime.train.RecipeLoader;
import ai.attune.runtime.train.TrainJob;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Recipes as {@code attune train RECIPE.yaml --set k=v} reads them: the YAML and the overrides
 * through RecipeLoader, then TrainJob.prepare against real plugins (every plugin block bound, the
 * run directory created) or, for a classifier method, ClassifierRecipe and setfit's config. An
 * accepted recipe's stored copy must bring the same run back on resume.
 */
class RecipeFuzzTest {
    static final String LORA = """
            model: MODEL
            method: lora
            lora: {r: 8, lora_alpha: 16, lora_dropout: 0.05, target_modules: all-linear}
            data: {format: text, path: TRAIN, eval_path: EVAL, general_eval_path: GENERAL, max_seq_len: 64, truncate: true,
                   shuffle: true, dedup: true}
            train:
              micro_batch_size: 8
              gradient_accumulation_steps: 2
              max_steps: 60
              seed: 0
              optimizer: {name: adamw, lr: 1.0e-2, weight_decay: 0.0}
              schedule: {name: cosine, warmup_steps: 5}
              max_grad_norm: 1.0
              eval_every: 20
              save_every: 20
              precision: fp32
              backend: jvm
            output: OUT
            """;
    static final String FULL = """
            model: MODEL
            method: full
            data: {format: chat, path: TRAIN}
            train: {epochs: 1.5, optimizer: {name: adamw, lr: 3e-5, betas: [0.9, 0.95]}, precision: bf16, backend: auto}
            output: OUT
            """;
    static final String SETFIT = """
            model: all-MiniLM-L6-v2
            method: setfit
            setfit: {loss: CosineSimilarityLoss, sampling_strategy: oversampling, batch_size: [16, 2], num_epochs: [1, 16],
                     body_learning_rate: [2.0e-5, 1.0e-5], use_differentiable_head: false, seed: 42}
            data: {path: TRAINCSV, eval_path: TESTCSV, text_column: text, label_column: label, num_samples: 8}
            output: OUT
            """;
    /** Valid override keys and values, so an override is often accepted and the hostile ones meet a bound recipe. */
    static final String[] KEYS = {"train.max_steps", "train.epochs", "train.optimizer.lr", "train.optimizer.name", "data.format", "data.path",
            "data.max_seq_len", "lora.r", "lora.target_modules", "method", "train.schedule", "train.precision", "setfit.num_epochs",
            "data.num_samples", "train.optimizer.betas", "output", "model", "train.backend", "setfit.loss"};
    static final String[] VALUES = {"5", "0", "-1", "2.5", "1e-4", "adamw", "lora", "full", "setfit", "text", "chat", "[1, 2]",
            "{name: adamw, lr: 1}", "null", "~", "", "bf16", "all-linear", "[q_proj, v_proj]", "true", ".nan", "1e999"};

    @TempDir
    Path dir;

    private final ObjectMapper yaml = new ObjectMapper(new YAMLFactory());

    @Test
    void languageModelRecipesAreBoundOrRefusedByKey() throws Exception {
        Path fixtures = fixtures();
        List<JsonNode> seeds = List.of(seed(LORA, fixtures), seed(FULL, fixtures));
        run("recipe", 11, 250, seeds, 0.03);
    }

    @Test
    void classifierRecipesAreBoundOrRefusedByKey() throws Exception {
        Path fixtures = fixtures();
        run("classifier-recipe", 12, 150, List.of(seed(SETFIT, fixtures)), 0.03);
    }

    /** Inputs the fuzzer found (or that hung, crashed or leaked a raw exception before the fix), kept as they were. */
    @Test
    void keptCasesAreRefusedByKey() throws Exception {
        Path fixtures = fixtures();
        String lora = yaml.writeValueAsString(seed(LORA, fixtures));
        String setfit = yaml.writeValueAsString(seed(SETFIT, fixtures));
        PluginCatalog catalog = FuzzPlugins.catalog();
        try (FuzzCampaign c = new FuzzCampaign("recipe-kept", 0, dir, RecipeException.class)) {
            byte[] notUtf8 = lora.getBytes(StandardCharsets.UTF_8);
            notUtf8[lora.indexOf("method")] = (byte) 0xff; // on line 3: the YAML writer starts with "---"
            assertEquals("recipe.yaml:3: not UTF-8 text", refused(c, catalog, notUtf8));
            // SnakeYAML's message is five lines; only its first ("while scanning a simple key") used to reach the user.
            assertRefused("matches", "recipe.yaml: not valid YAML: line \\d+, column \\d+: could not find expected ':' \\(while scanning a simple key\\)",
                    refused(c, catalog, lora.replace("  max_steps: 60\n", "  max_ste\n")));
            byte[] valid = lora.getBytes(StandardCharsets.UTF_8);
            assertRefused("startsWith", "--set '.=1': expected key.path=value", refused(c, catalog, valid, ".=1"));
            assertRefused("startsWith", "--set 'train.=\\n'", refused(c, catalog, valid, "train.=\n"));
            assertRefused("startsWith", "recipe.yaml: key 'model' is not a path", refused(c, catalog, lora.replaceFirst("model: .*", "model: \"a\\\\0b\"")));
            assertRefused("contains", "too large for a recipe", refused(c, catalog, lora + "#" + "x".repeat(RecipeLoader.MAX_BYTES)));
            assertRefused("contains", "data.path 'x\\ny' is not a file", refused(c, catalog, lora.replaceFirst("  path: .*", "  path: \"x\\\\ny\"")));
            // Plugin blocks are bound before the run directory is made, so a bad one leaves nothing behind.
            assertRefused("startsWith", "recipe.yaml: lora", refused(c, catalog, lora.replace("r: 8", "r: -1")));
            assertRefused("contains", "key 'train.optimizer.lr' is Infinity", refused(c, catalog, lora.replace("lr: 0.01", "lr: 1e400")));
            assertRefused("contains", "'train.optimizer.lr' must be a finite number >= 0", refused(c, catalog, lora.replace("lr: 0.01", "lr: -1")));
            assertRefused("contains", "train.schedule.name", refused(c, catalog, lora.replace("name: \"cosine\"", "name: \"cosine_annealing\"")));
            assertRefused("startsWith", "recipe.yaml: train.backend: ", refused(c, catalog, lora.replace("backend: \"jvm\"", "backend: \"torch\"")));
            assertRefused("contains", "data.num_samples must be a positive number", refused(c, catalog, setfit.replace("num_samples: 8", "num_samples: 0")));
            // Written back as a string, an infinite number made the run directory's copy a different recipe, which --resume refused.
            assertRefused("startsWith", "recipe.yaml: key 'train.epochs' is Infinity; a recipe's numbers must be finite",
                    refused(c, catalog, lora.replace("max_steps: 60", "epochs: 1e400")));
            // The output directory's name too long for the file system was a raw FileSystemException.
            assertRefused("contains", "cannot be created: File name too long", refused(c, catalog, valid, "output=ROUND/" + "x".repeat(300)));
            // Compiling a 360,000-character target_modules pattern took 36 s (the JDK's Boyer-Moore table is quadratic).
            assertRefused("contains", "target_modules is a regular expression of 60000 characters", refused(c, catalog, valid,
                    "lora.target_modules=" + "a".repeat(60_000)));
            // A 10,000-name --set path built a tree that Jackson would not print into the error message.
            assertRefused("contains", "a key path has at most 16 names, this one 10001", refused(c, catalog, valid, "lora" + ".r".repeat(10_000) + "=1"));
            assertRefused("contains", "characters is too long for an override", refused(c, catalog, valid, "model=" + "0".repeat(2_000_000)));
            // "--set k=" put a MissingNode in the tree, and Jackson's binder failed on it with "Internal error: unexpected token".
            assertRefused("startsWith", "recipe.yaml: missing key 'data.path'", refused(c, catalog, setfit.getBytes(StandardCharsets.UTF_8),
                    "data.path="));
            // Names went into an OSGi filter unescaped: "*" matched any plugin, "a)(b" was a filter syntax error.
            assertRefused("startsWith", "recipe.yaml: method '*' is not installed", refused(c, catalog, lora.replace("method: \"lora\"", "method: \"*\"")));
            assertRefused("contains", "train.optimizer.name 'a)(b' is not installed", refused(c, catalog, lora.replace("name: \"adamw\"", "name: \"a)(b\"")));
        }
    }

    private static void assertRefused(String how, String expected, String message) {
        boolean ok = switch (how) {
            case "startsWith" -> message.startsWith(expected);
            case "contains" -> message.contains(expected);
            default -> message.matches(expected);
        };
        assertTrue(ok, how + " '" + expected + "': " + message);
    }

    private String refused(FuzzCampaign c, PluginCatalog catalog, String recipe, String... overrides) throws Exception {
        return refused(c, catalog, recipe.getBytes(StandardCharsets.UTF_8), overrides);
    }

    /** {@code ROUND} in an override stands for the case's directory. */
    private String refused(FuzzCampaign c, PluginCatalog catalog, byte[] recipe, String... overrides) throws Exception {
        Path round = Files.createTempDirectory(dir, "kept");
        Path file = Files.write(round.resolve("recipe.yaml"), recipe);
        String message = c.check(new FuzzCampaign.Case(List.of(file), List.of("recipe.yaml", "--set"),
                () -> train(file, Stream.of(overrides).map(o -> o.replace("ROUND", round.toString())).toList(), round, catalog)));
        assertNotNull(message, "accepted: " + new String(recipe, StandardCharsets.UTF_8).lines().limit(3).toList());
        return message;
    }

    private void run(String parser, long seed, int rounds, List<JsonNode> seeds, double minAccepted) throws Exception {
        PluginCatalog catalog = FuzzPlugins.catalog();
        try (FuzzCampaign campaign = new FuzzCampaign(parser, seed, dir, RecipeException.class)) {
            FuzzCampaign.Totals t = campaign.run(FuzzCampaign.rounds(rounds), (m, round) -> {
                ObjectNode s = (ObjectNode) seeds.get(m.random().nextInt(seeds.size())).deepCopy();
                s.put("output", round.resolve("run").toString());
                Path file = round.resolve("recipe.yaml");
                Files.write(file, m.document(s, m.random().nextInt(5) == 0 ? Mutator.Syntax.JSON : Mutator.Syntax.YAML));
                List<String> overrides = overrides(m);
                Path args = Files.writeString(round.resolve("overrides.json"), yaml.writeValueAsString(overrides)); // kept with a failing case
                return new FuzzCampaign.Case(List.of(file, args), List.of("recipe.yaml", "--set"), () -> train(file, overrides, round, catalog));
            });
            FuzzCampaign.assertBothOutcomes(t, minAccepted, 0.3);
        }
    }

    /** What TrainCommand does with a recipe, except loading the model and data: bind, check, create the run directory, reopen it. */
    private static void train(Path file, List<String> overrides, Path round, PluginCatalog catalog) throws Exception {
        RecipeLoader loader = new RecipeLoader();
        ObjectNode tree = loader.read(file, overrides);
        confineOutput(tree, round);
        String method = tree.path("method").asText(null);
        if (method != null && catalog.find(Kind.CLASSIFIER, method, ClassifierMethod.class).isPresent()) {
            ClassifierRun run = ClassifierRecipe.bind(file, tree, method);
            @SuppressWarnings("unchecked")
            ClassifierMethod<Object> m = catalog.find(Kind.CLASSIFIER, method, ClassifierMethod.class).orElseThrow();
            loader.bindConfig(run.config(), m.defaultConfig(), m.configType(), method, run.where()); // as ClassifierRun.run starts
            return;
        }
        TrainJob job = new TrainJob(catalog, new PrintWriter(new StringWriter()));
        TrainJob.Prepared p = job.prepare(file, tree, null);
        p.runDir().create(p.recipeYaml()); // what run() does once the model, data and plugins have loaded
        // The stored copy is what --resume (and the lab server's worker) reads back: it must be the same run.
        Path stored = p.runDir().path().resolve("recipe.yaml");
        assertEquals(tree, loader.read(stored, List.of()), "recipe.yaml as stored differs from the recipe");
        job.prepare(null, null, p.runDir().path());
    }

    /** A recipe's output is forced into the round's directory (as the lab server forces it into the job's), so no run escapes the test. */
    private static void confineOutput(ObjectNode tree, Path round) {
        JsonNode out = tree.get("output");
        if (out == null || !out.isValueNode() || out.isNull()) {
            return;
        }
        try {
            Path p = Path.of(out.asText()).toAbsolutePath().normalize();
            if (!p.startsWith(round) || p.equals(round)) {
                tree.put("output", round.resolve("run").toString());
            }
        } catch (InvalidPathException e) {
            // left for the recipe loader to refuse
        }
    }

    /** None most of the time; else a few {@code --set} arguments, valid or hostile in key, value or form. */
    static List<String> overrides(Mutator m) {
        List<String> out = new ArrayList<>();
        if (m.random().nextInt(10) < 6) {
            return out;
        }
        for (int i = 0, n = 1 + m.random().nextInt(3); i < n; i++) {
            String key = switch (m.random().nextInt(8)) {
                case 0 -> m.pick("", ".", "a..b", "train.", ".train", "train..max_steps", "\u0000", "train.max_steps.x");
                case 1 -> m.pick(KEYS) + ".a".repeat(m.pick(10, 10_000)); // nesting only --set can build: YAML stops at 50 levels
                case 2 -> m.hostileKey();
                default -> m.pick(KEYS);
            };
            String value = switch (m.random().nextInt(6)) {
                case 0 -> m.raw(Mutator.Syntax.YAML);
                case 1 -> m.hostileString();
                default -> m.pick(VALUES);
            };
            out.add(switch (m.random().nextInt(12)) {
                case 0 -> key;
                case 1 -> "=" + value;
                default -> key + "=" + value;
            });
        }
        return out;
    }

    private JsonNode seed(String template, Path fixtures) throws Exception {
        String text = template.replace("MODEL", fixtures.resolve("model").toString()).replace("TRAINCSV", fixtures.resolve("train.csv").toString())
                .replace("TESTCSV", fixtures.resolve("test.csv").toString()).replace("TRAIN", fixtures.resolve("train.jsonl").toString())
                .replace("EVAL", fixtures.resolve("eval.jsonl").toString()).replace("GENERAL", fixtures.resolve("general.txt").toString())
                .replace("OUT", dir.resolve("unused").toString());
        return yaml.readTree(text);
    }

    private Path fixtures() throws Exception {
        Path f = Files.createDirectories(dir.resolve("fixtures"));
        Files.createDirectories(f.resolve("model"));
        Files.writeString(f.resolve("train.jsonl"), "{\"text\": \"Once upon a time\"}\n");
        Files.writeString(f.resolve("eval.jsonl"), "{\"text\": \"there was a girl\"}\n");
        Files.writeString(f.resolve("general.txt"), "The birch canoe slid on the smooth planks.\n");
        Files.writeString(f.resolve("train.csv"), "text,label\nrefund please,billing\ncannot log in,account\n");
        Files.writeString(f.resolve("test.csv"), "text,label\ncharged twice,billing\n");
        return f;
    }
}
