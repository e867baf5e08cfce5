package ai.attune.runtime.cli;

import ai.attune.api.io.SafetensorsWriter;
import ai.attune.api.model.SentenceBatcher;
import ai.attune.api.model.SentenceEncoder;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.runtime.host.AttuneRuntime;
import ai.attune.runtime.host.RuntimeLayout;
import ai.attune.runtime.model.LoadedModel;
import ai.attune.runtime.model.ModelLoader;
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
import java.util.List;

/**
 * {@code attune embed}: sentence embeddings of one text per line, as sentence-transformers'
 * {@code encode} computes them (the directory's pooling and normalisation, its default prompt
 * prepended unless another or none is asked for), to a safetensors file holding f32
 * {@code embeddings} [N, dim].
 */
@Command(name = "embed", description = "Embed one text per line with a sentence encoder; write f32 'embeddings' [N, dim] to a safetensors file.")
public final class EmbedCommand implements Runnable {
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

    @Option(names = "--batch-size", defaultValue = "" + SentenceBatcher.DEFAULT_BATCH_SIZE, paramLabel = "N",
            description = "Texts per forward, taken longest first so each batch pads little, as sentence-transformers' encode (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Override
    public void run() {
        if (promptName != null && prompt != null) {
            throw new IllegalArgumentException("--prompt-name and --prompt both set a prompt; give one");
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("--batch-size must be >= 1, got " + batchSize);
        }
        try (AttuneRuntime rt = AttuneRuntime.boot(RuntimeLayout.fromSystem()); Scope job = Scope.open("job");
             Arena buffers = Arena.ofConfined()) {
            List<String> texts = Files.readAllLines(input, StandardCharsets.UTF_8);
            ModelLoader loader = new ModelLoader(rt.plugins());
            LoadedModel m = loader.load(model.model, model.adapter, loader.backend(model.backend), DType.F32, job);
            try (var tok = m.tokenizer()) {
                SentenceBatcher batcher = batcher(m, model.model, m.sentenceTransformers().prompt(promptName, prompt));
                int dim = batcher.encoder().dimension();
                MemorySegment all = buffers.allocate((long) Math.max(texts.size(), 1) * dim * Float.BYTES, 64);
                batcher.encode(batcher.ids(texts), batchSize, all, n -> { });
                new SafetensorsWriter().add("embeddings", DType.F32, new long[] {texts.size(), dim},
                        all.asSlice(0, (long) texts.size() * dim * Float.BYTES)).write(out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }

    /**
     * How {@code attune embed} turns texts into embeddings with {@code m}: its tokenizer with
     * {@code prefix} before each text, truncated to its {@code max_seq_length}. {@code attune bench
     * --op embed} times the same.
     */
    static SentenceBatcher batcher(LoadedModel m, String name, String prefix) throws IOException {
        if (!(m.module() instanceof SentenceEncoder enc)) {
            throw new IllegalArgumentException(name + " is not a sentence encoder (" + m.config().modelType() + ")");
        }
        var tok = m.tokenizer();
        return new SentenceBatcher(enc, m.backend(), text -> tok.encode(prefix + text), m.maxSeqLength());
    }
}
