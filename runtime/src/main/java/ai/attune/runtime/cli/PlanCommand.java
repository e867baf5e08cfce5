package ai.attune.runtime.cli;

import ai.attune.api.model.ModelConfig;
import ai.attune.runtime.host.AttuneRuntime;
import ai.attune.runtime.host.RuntimeLayout;
import ai.attune.runtime.plan.Advisor;
import ai.attune.runtime.plan.ByteSize;
import ai.attune.runtime.plan.MemoryPlan;
import ai.attune.runtime.plan.MemoryPlanner;
import ai.attune.runtime.plan.PlanReport;
import ai.attune.runtime.plan.RecipePlan;
import ai.attune.runtime.plan.RuntimeOverhead;
import ai.attune.runtime.train.RecipeLoader;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code attune plan}: a recipe's memory, computed from the model's config.json and the recipe
 * without running the model; with a budget, whether it fits and what to change, cheapest first.
 */
@Command(name = "plan", description = "Plan a recipe's peak memory without running it: weights, gradients, optimizer state, activations, "
        + "workspace and runtime; whether it fits --device-memory, and what to change, cheapest first.")
public final class PlanCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "RECIPE.yaml", description = "The recipe to plan (as attune train reads it).")
    Path recipeFile;

    @Option(names = "--device-memory", paramLabel = "SIZE", converter = SizeConverter.class,
            description = "The memory to fit in, e.g. 24GB (10^9 bytes) or 24GiB (2^30); default: this machine's memory.")
    Long deviceMemory;

    @Option(names = "--preset", paramLabel = "NAME", description = "Plan this model shape instead of the recipe's model: llama-100m (as attune bench --preset).")
    String preset;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a recipe key, e.g. --set train.micro_batch_size=2. Repeatable.")
    List<String> overrides = new ArrayList<>();

    @Option(names = "--json", description = "Print the plan as one JSON object.")
    boolean json;

    /** "24GB" and the like, refused by picocli as the option's invalid value. */
    static final class SizeConverter implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            try {
                return ByteSize.parse(value);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    @Override
    public void run() {
        ModelConfig presetConfig = preset == null ? null : presetConfig();
        try {
            ObjectNode tree = new RecipeLoader().read(recipeFile, overrides); // a missing or malformed recipe is refused before the runtime boots
            RecipePlan.Input input;
            try (AttuneRuntime rt = AttuneRuntime.boot(RuntimeLayout.fromSystem())) {
                input = RecipePlan.read(recipeFile, tree, rt.plugins(), presetConfig, preset);
            }
            MemoryPlanner planner = new MemoryPlanner(RuntimeOverhead.ofThisJvm());
            long budget = deviceMemory != null ? deviceMemory : physicalMemory();
            String budgetName = deviceMemory != null ? ByteSize.asGiven(spec.findOption("--device-memory").stringValues().get(0), budget)
                    : "this machine's memory (" + ByteSize.format(budget) + ")";
            MemoryPlan plan = planner.plan(input.shape(), input.setup());
            var advice = new Advisor(planner, input.installed()).advise(input.shape(), input.setup(), budget);
            PlanReport report = new PlanReport(input, plan, budget, budgetName, advice);
            PrintWriter out = spec.commandLine().getOut();
            out.print(json ? report.json() + System.lineSeparator() : report.text());
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }

    private ModelConfig presetConfig() {
        String config = BenchCommand.PRESETS.get(preset);
        if (config == null) {
            throw new ParameterException(spec.commandLine(), "unknown --preset '" + preset + "'; known: " + BenchCommand.PRESETS.keySet());
        }
        try {
            return ModelConfig.of(Path.of(preset), new ObjectMapper().readTree(config));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static long physicalMemory() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
    }
}
