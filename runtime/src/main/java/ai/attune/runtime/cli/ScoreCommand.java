package ai.attune.runtime.cli;

import ai.attune.api.autograd.GradMode;
import ai.attune.api.io.SafetensorsWriter;
import ai.attune.api.model.CausalLM;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.runtime.host.AttuneRuntime;
import ai.attune.runtime.host.RuntimeLayout;
import ai.attune.runtime.model.LoadedModel;
import ai.attune.runtime.model.ModelLoader;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code attune score}: logits and mean next-token NLL of token sequences. Each input line is
 * {@code {"input_ids":[...]}}; OUT gets one f32 tensor {@code logits.<i>} [T_i, vocab] per line,
 * stdout one JSON line {@code {"index":i,"tokens":T_i,"nll":...}} (the mean NLL of tokens 1..T-1,
 * null when T is 1).
 */
@Command(name = "score", description = "Score token sequences: per-position logits to a safetensors file, mean NLL per line to stdout.")
public final class ScoreCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions model;

    @Option(names = "--input", required = true, paramLabel = "IDS.jsonl", description = "One {\"input_ids\":[...]} per line.")
    Path input;

    @Option(names = "--out", required = true, paramLabel = "OUT.safetensors", description = "Where the logits go (written atomically).")
    Path out;

    @Option(names = "--stats", description = "Print tokens/s to stderr.")
    boolean stats;

    @Override
    public void run() {
        ObjectMapper json = new ObjectMapper();
        PrintWriter stdout = spec.commandLine().getOut();
        try (AttuneRuntime rt = AttuneRuntime.boot(RuntimeLayout.fromSystem()); Scope job = Scope.open("job");
             Arena buffers = Arena.ofConfined(); GradMode.Region ng = GradMode.noGrad()) {
            ModelLoader loader = new ModelLoader(rt.plugins());
            LoadedModel m = loader.load(model.model, model.adapter, loader.backend(model.backend), DType.F32, job);
            m.tokenizer().close();
            if (!(m.module() instanceof CausalLM lm)) {
                throw new IllegalArgumentException(model.model + " is not a causal language model (" + m.config().modelType() + ")");
            }
            int vocab = lm.vocabSize();
            SafetensorsWriter writer = new SafetensorsWriter();
            long tokens = 0;
            long t0 = System.nanoTime();
            try (BufferedReader r = Files.newBufferedReader(input)) {
                String line;
                int lineNo = 0;
                int index = 0;
                while ((line = r.readLine()) != null) {
                    lineNo++;
                    if (line.isBlank()) {
                        continue;
                    }
                    long[] ids = parseIds(json, line, lineNo, vocab, lm.maxPositions());
                    try (Scope step = Scope.open("score")) {
                        Tensor logits = lm.forward(Tensors.ofLongs(m.backend(), ids, 1, ids.length), null, null); // [1, (P +) T, vocab]
                        // virtual tokens (prompt tuning) come back as P leading positions: the real tokens' logits are the last T
                        logits = ai.attune.api.autograd.Views.slice(logits, 1, logits.size(1) - ids.length, logits.size(1));
                        Tensor f32 = m.backend().zeros(DType.F32, new int[] {ids.length, vocab}, step);
                        m.backend().copy(ai.attune.api.autograd.Views.reshape(logits, ids.length, vocab), f32);
                        MemorySegment bytes = buffers.allocate((long) ids.length * vocab * 4, 64);
                        m.backend().copyToBytes(f32, bytes);
                        writer.add("logits." + index, DType.F32, new long[] {ids.length, vocab}, bytes);
                        Double nll = meanNll(bytes, ids, vocab);
                        stdout.println("{\"index\":" + index + ",\"tokens\":" + ids.length + ",\"nll\":" + (nll == null ? "null" : nll) + "}");
                        stdout.flush();
                    }
                    tokens += ids.length;
                    index++;
                }
            }
            writer.write(out);
            if (stats) {
                double secs = (System.nanoTime() - t0) / 1e9;
                spec.commandLine().getErr().printf("%d tokens in %.3f s: %.1f tokens/s%n", tokens, secs, tokens / secs);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }

    private long[] parseIds(ObjectMapper json, String line, int lineNo, int vocab, int maxPositions) {
        String where = input.getFileName() + ":" + lineNo + ": ";
        JsonNode node;
        try {
            node = json.readTree(line);
        } catch (IOException e) {
            throw new IllegalArgumentException(where + "not valid JSON");
        }
        JsonNode ids = node == null ? null : node.get("input_ids");
        if (ids == null || !ids.isArray() || ids.isEmpty()) {
            throw new IllegalArgumentException(where + "needs a non-empty \"input_ids\" array");
        }
        if (ids.size() > maxPositions) {
            throw new IllegalArgumentException(where + ids.size() + " tokens exceed the model's " + maxPositions + " positions");
        }
        long[] out = new long[ids.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = ids.get(i);
            if (!v.isIntegralNumber() || v.asLong() < 0 || v.asLong() >= vocab) {
                throw new IllegalArgumentException(where + "input_ids[" + i + "] = " + v + " is not a token id in [0, " + vocab + ")");
            }
            out[i] = v.asLong();
        }
        return out;
    }

    /** Mean of -log softmax(logits[t])[ids[t+1]] over t = 0..T-2, in double. */
    static Double meanNll(MemorySegment logits, long[] ids, int vocab) {
        if (ids.length < 2) {
            return null;
        }
        double total = 0;
        for (int t = 0; t < ids.length - 1; t++) {
            long base = (long) t * vocab;
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < vocab; v++) {
                max = Math.max(max, logits.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, base + v));
            }
            double sum = 0;
            for (int v = 0; v < vocab; v++) {
                sum += Math.exp(logits.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, base + v) - max);
            }
            total += max + Math.log(sum) - logits.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, base + ids[t + 1]);
        }
        return total / (ids.length - 1);
    }
}
