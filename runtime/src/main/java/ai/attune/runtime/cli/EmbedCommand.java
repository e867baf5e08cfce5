package ai.attune.runtime.cli;

import ai.attune.api.autograd.GradMode;
import ai.attune.api.io.SafetensorsWriter;
import ai.attune.api.model.SentenceEncoder;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.runtime.host.AttuneRuntime;
import ai.attune.runtime.host.RuntimeLayout;
import ai.attune.runtime.model.LoadedModel;
import ai.attune.runtime.model.ModelLoader;
import com.fasterxml.jackson.databind.ObjectMapper;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * {@code attune embed}: sentence embeddings of one text per line, as sentence-transformers'
 * {@code encode} computes them (the directory's pooling and normalisation, its default prompt
 * prepended unless another or none is asked for), to a safetensors file holding f32
 * {@code embeddings} [N, dim].
 */
@Command(name = "embed", description = "Embed one text per line with a sentence encoder; write f32 'embeddings' [N, dim] to a safetensors file.")
public final class EmbedCommand implements Runnable {
    private static final int BATCH = 16;

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions model;

    @Option(names = "--input", required = true, paramLabel = "TEXTS.txt", description = "One text per line (UTF-8).")
    Path input;

    @Option(names = "--out", required = true, paramLabel = "OUT.safetensors", description = "Where the embeddings go (written atomically).")
    Path out;

    @Option(names = "--prompt-name", paramLabel = "NAME", description = "Prepend the model's prompt of this name (config_sentence_transformers.json), "
            + "e.g. 'passage' for e5-small-v2 documents. Default: the model's default_prompt_name, if any ('query' for e5-small-v2).")
    String promptName;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "Prepend this text instead of a named prompt; --prompt '' embeds the texts as they are.")
    String prompt;

    @Override
    public void run() {
        if (promptName != null && prompt != null) {
            throw new IllegalArgumentException("--prompt-name and --prompt both set a prompt; give one");
        }
        try (AttuneRuntime rt = AttuneRuntime.boot(RuntimeLayout.fromSystem()); Scope job = Scope.open("job");
             Arena buffers = Arena.ofConfined(); GradMode.Region ng = GradMode.noGrad()) {
            List<String> texts = Files.readAllLines(input, StandardCharsets.UTF_8);
            ModelLoader loader = new ModelLoader(rt.plugins());
            LoadedModel m = loader.load(model.model, model.adapter, loader.backend(model.backend), DType.F32, job);
            try (var tok = m.tokenizer()) {
                if (!(m.module() instanceof SentenceEncoder enc)) {
                    throw new IllegalArgumentException(model.model + " is not a sentence encoder (" + m.config().modelType() + ")");
                }
                String prefix = m.sentenceTransformers().prompt(promptName, prompt);
                int maxLen = m.maxSeqLength();
                int dim = enc.dimension();
                MemorySegment all = buffers.allocate((long) Math.max(texts.size(), 1) * dim * 4, 64);
                for (int start = 0; start < texts.size(); start += BATCH) {
                    List<String> batch = texts.subList(start, Math.min(texts.size(), start + BATCH));
                    long[][] ids = new long[batch.size()][];
                    int t = 1;
                    for (int i = 0; i < ids.length; i++) {
                        ids[i] = truncate(tok.encode(prefix + batch.get(i)), maxLen);
                        t = Math.max(t, ids[i].length);
                    }
                    long[] flat = new long[ids.length * t];
                    long[] mask = new long[ids.length * t];
                    for (int i = 0; i < ids.length; i++) {
                        for (int j = 0; j < ids[i].length; j++) {
                            flat[i * t + j] = ids[i][j];
                            mask[i * t + j] = 1;
                        }
                    }
                    try (Scope step = Scope.open("embed")) {
                        Tensor e = enc.embed(Tensors.ofLongs(m.backend(), flat, ids.length, t), Tensors.ofLongs(m.backend(), mask, ids.length, t), null);
                        Tensor f32 = m.backend().zeros(DType.F32, new int[] {ids.length, dim}, step);
                        m.backend().copy(e, f32);
                        m.backend().copyToBytes(f32, all.asSlice((long) start * dim * 4, (long) ids.length * dim * 4));
                    }
                }
                new SafetensorsWriter().add("embeddings", DType.F32, new long[] {texts.size(), dim},
                        all.asSlice(0, (long) texts.size() * dim * 4)).write(out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }

    /** Truncates to the model's length, keeping the final special token (e.g. [SEP]) as the tokenizers library does. */
    private static long[] truncate(long[] ids, int maxLen) {
        if (ids.length <= maxLen) {
            return ids;
        }
        long[] out = Arrays.copyOf(ids, maxLen);
        out[maxLen - 1] = ids[ids.length - 1];
        return out;
    }
}
