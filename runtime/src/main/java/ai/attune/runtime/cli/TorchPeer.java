package ai.attune.runtime.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The PyTorch eager peer of the training bench: {@code bench/peers/torch_lora.py} of the
 * distribution, run by a Python that has torch, trains the same Llama shape with the same method,
 * batch, sequence length, steps and threads, and prints one JSON line with the bench's field names.
 * Every failure is an {@link IllegalStateException} whose message says what to do, in one line.
 */
final class TorchPeer {
    /** The script, relative to the installation's home. */
    static final Path SCRIPT = Path.of("bench", "peers", "torch_lora.py");
    /** The peer of {@code attune bench --op embed}: sentence-transformers' encode, by hand ({@link EmbedBench}). */
    static final Path ENCODE_SCRIPT = Path.of("bench", "peers", "st_encode.py");
    /** The methods the script trains. */
    static final Set<String> METHODS = Set.of("lora", "full");

    /** The Llama shape to build: the script's flags. */
    record Shape(int layers, int hidden, int intermediate, int heads, int kvHeads, int vocab, boolean tied) {
        /** The shape of a Llama config.json; null with the reason in {@code why} when the script cannot build it. */
        static Shape ofLlama(JsonNode config, StringBuilder why) {
            if (!config.path("model_type").asText().equals("llama")) {
                why.append("model_type '").append(config.path("model_type").asText()).append("' (the peer builds Llama models)");
                return null;
            }
            int hidden = config.path("hidden_size").asInt();
            int heads = config.path("num_attention_heads").asInt();
            if (heads <= 0 || hidden % heads != 0 || config.has("head_dim") && config.path("head_dim").asInt() != hidden / heads) {
                why.append("a head_dim other than hidden_size / num_attention_heads");
                return null;
            }
            return new Shape(config.path("num_hidden_layers").asInt(), hidden, config.path("intermediate_size").asInt(), heads,
                    config.path("num_key_value_heads").asInt(heads), config.path("vocab_size").asInt(), config.path("tie_word_embeddings").asBoolean(false));
        }

        List<String> flags() {
            List<String> f = new ArrayList<>(List.of("--layers", "" + layers, "--hidden", "" + hidden, "--intermediate", "" + intermediate,
                    "--heads", "" + heads, "--kv-heads", "" + kvHeads, "--vocab", "" + vocab));
            if (!tied) {
                f.add("--untied");
            }
            return f;
        }
    }

    private final Path python;
    private final Path script;

    TorchPeer(Path python, Path script) {
        this.python = python;
        this.script = script;
    }

    /** Checks that the script is there and the Python imports torch, before minutes go into Attune's own steps. */
    void check() {
        if (!Files.isRegularFile(script)) {
            throw new IllegalStateException("--peer torch: the peer script " + script + " is missing; the distribution's " + SCRIPT.getParent()
                    + "/ holds it");
        }
        if ((python.isAbsolute() || python.getNameCount() > 1) && !Files.isExecutable(python)) { // a bare name is looked up on the PATH
            throw new IllegalStateException("--peer torch: " + python + (Files.exists(python) ? " is not executable" : " does not exist")
                    + "; give a Python with PyTorch as --peer-python");
        }
        Output r = exec(List.of(python.toString(), "-c", "import torch; print(torch.__version__)"));
        if (r.exit() != 0) {
            throw new IllegalStateException("--peer torch: " + python + " cannot import torch (" + r.lastErrorLine()
                    + "); give a Python with PyTorch as --peer-python (Debian: apt install python3-torch)");
        }
    }

    /** Runs the script for {@code steps} timed steps after {@code warmUp}; returns its JSON line. */
    ObjectNode train(String method, int batch, int seq, int steps, int warmUp, int threads, Shape shape) {
        List<String> args = new ArrayList<>(List.of("--method", method, "--batch", "" + batch, "--seq", "" + seq,
                "--steps", "" + steps, "--warmup", "" + warmUp, "--threads", "" + threads));
        args.addAll(shape.flags());
        return run(args);
    }

    /** Runs the script with {@code args}; returns the last JSON line it printed. */
    ObjectNode run(List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(python.toString(), script.toString()));
        cmd.addAll(args);
        Output r = exec(cmd);
        if (r.exit() != 0) {
            throw new IllegalStateException("--peer torch: " + script.getFileName() + " exited with " + r.exit() + ": " + r.lastErrorLine());
        }
        String line = r.stdout().lines().filter(l -> l.startsWith("{")).reduce((a, b) -> b)
                .orElseThrow(() -> new IllegalStateException("--peer torch: " + script.getFileName() + " printed no JSON line"));
        try {
            return (ObjectNode) new ObjectMapper().readTree(line);
        } catch (IOException | ClassCastException e) {
            throw new IllegalStateException("--peer torch: " + script.getFileName() + " printed a line that is no JSON object: " + line);
        }
    }

    /** What a finished process printed. */
    record Output(int exit, String stdout, String stderr) {
        String lastErrorLine() {
            return stderr.lines().filter(l -> !l.isBlank()).reduce((a, b) -> b).orElse("no message");
        }
    }

    private Output exec(List<String> cmd) {
        Path out = null;
        Path err = null;
        try {
            out = Files.createTempFile("attune-peer", ".out");
            err = Files.createTempFile("attune-peer", ".err");
            Process p;
            try {
                p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            } catch (IOException e) {
                throw new IllegalStateException("--peer torch: cannot run " + python + " (" + Main.oneLine(e)
                        + "); give a Python with PyTorch as --peer-python");
            }
            try {
                p.waitFor();
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while the peer ran", e);
            }
            return new Output(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException("--peer torch: " + Main.oneLine(e), e);
        } finally {
            deleteQuietly(out);
            deleteQuietly(err);
        }
    }

    private static void deleteQuietly(Path p) {
        if (p != null) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // a temporary file the OS cleans up
            }
        }
    }
}
