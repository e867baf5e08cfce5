package ai.attune.runtime.cli;

import ai.attune.api.model.CausalLM;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.runtime.generate.Generator;
import ai.attune.runtime.generate.Sampling;
import ai.attune.runtime.host.AttuneRuntime;
import ai.attune.runtime.host.RuntimeLayout;
import ai.attune.runtime.model.LoadedModel;
import ai.attune.runtime.model.ModelLoader;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/** {@code attune generate}: continue a prompt and print only the generated text. */
@Command(name = "generate", description = "Continue a prompt with a causal language model and print the generated text.")
public final class GenerateCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions model;

    @Option(names = "--prompt", required = true, description = "Prompt text (encoded with the model's tokenizer, BOS as its config says).")
    String prompt;

    @Option(names = "--max-new-tokens", defaultValue = "64", description = "Most tokens to generate (default ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "0 is greedy decoding (default ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--top-k", defaultValue = "0", description = "Sample among the k most likely tokens; 0 keeps all (default ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--top-p", defaultValue = "1.0", description = "Nucleus sampling mass (default ${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the sampling draws (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--stop", description = "Stop string; generation ends before its first occurrence. Repeatable.")
    List<String> stops = new ArrayList<>();

    @Option(names = "--stats", description = "Print prompt and generation speed to stderr.")
    boolean stats;

    @Override
    public void run() {
        if (maxNewTokens < 0) {
            throw new ParameterException(spec.commandLine(), "--max-new-tokens must be >= 0");
        }
        Sampling sampling;
        try {
            sampling = new Sampling(temperature, topK, topP, seed);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        try (AttuneRuntime rt = AttuneRuntime.boot(RuntimeLayout.fromSystem()); Scope job = Scope.open("job")) {
            ModelLoader loader = new ModelLoader(rt.plugins());
            LoadedModel m = loader.load(model.model, model.adapter, loader.backend(model.backend), DType.F32, job);
            try (var tok = m.tokenizer()) {
                if (!(m.module() instanceof CausalLM lm)) {
                    throw new IllegalArgumentException(model.model + " is not a causal language model (" + m.config().modelType() + ")");
                }
                long t0 = System.nanoTime();
                long[] ids = tok.encode(prompt);
                if (ids.length == 0) {
                    // An empty prompt starts from BOS, as transformers' generate does for models whose tokenizer adds none (GPT-2).
                    long bos = tok.bosId().orElse(m.config().node("bos_token_id").asLong(-1));
                    if (bos >= 0) {
                        ids = new long[] {bos};
                    }
                }
                Generator.Result r = new Generator(lm, m.backend(), tok, m.eosIds()).generate(ids, maxNewTokens, sampling, stops);
                double secs = (System.nanoTime() - t0) / 1e9;
                PrintWriter out = spec.commandLine().getOut();
                out.println(r.text());
                out.flush();
                if (stats) {
                    spec.commandLine().getErr().printf("%d prompt tokens, %d generated in %.3f s: %.1f tokens/s%n",
                            r.promptTokens(), r.ids().length, secs, r.ids().length / secs);
                }
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e.getMessage(), e);
        }
    }
}
