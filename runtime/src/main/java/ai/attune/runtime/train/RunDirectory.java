package ai.attune.runtime.train;

import ai.attune.api.io.AtomicDirectory;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A run's directory, the source of truth about it: {@code recipe.yaml} as run, {@code events.jsonl}
 * (one JSON object per line), {@code checkpoint-<step>/} directories and the final output in
 * {@code final/}.
 */
public final class RunDirectory {
    static final String RECIPE = "recipe.yaml";
    static final String EVENTS = "events.jsonl";
    static final String CHECKPOINT_PREFIX = "checkpoint-";

    private final Path dir;
    private final boolean writes;
    private final ObjectMapper json = new ObjectMapper();
    private BufferedWriter events;

    public RunDirectory(Path dir) {
        this(dir, true);
    }

    private RunDirectory(Path dir, boolean writes) {
        this.dir = dir;
        this.writes = writes;
    }

    /**
     * The run directory as a data-parallel rank other than 0 sees it: it reads checkpoints (to
     * resume) and never writes, since rank 0 writes the run's one copy.
     */
    public static RunDirectory follower(Path dir) {
        return new RunDirectory(dir, false);
    }

    /**
     * No directory: a run over in-memory examples that keeps nothing (no events, checkpoints or
     * final output), as {@code attune bench} times the training loop.
     */
    static RunDirectory none() {
        return new RunDirectory(null, false);
    }

    /** Whether this process writes the run: events, checkpoints, final. */
    public boolean writes() {
        return writes;
    }

    public Path path() {
        return dir;
    }

    public Path finalOutput() {
        return dir.resolve("final");
    }

    /**
     * Refuses an output a new run must not take, before anything is loaded or written: a file, a
     * directory holding a checkpoint or a finished run, or one holding files that are not a run's.
     * A directory left by a run that stopped before its first checkpoint is accepted: all it holds
     * is the recipe and the events of steps nothing kept, so starting afresh loses nothing.
     */
    public void checkNew() throws IOException {
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new RecipeException("output " + dir + " is a file, not a directory");
        }
        // What would stop the directory from being created later, checked without creating it.
        Path existing = dir.toAbsolutePath();
        while (existing != null && !Files.exists(existing)) {
            if (existing.getFileName() != null && existing.getFileName().toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 255) {
                throw new RecipeException("output " + dir + " cannot be created: File name too long");
            }
            existing = existing.getParent();
        }
        if (existing != null && !Files.isDirectory(existing)) {
            throw new RecipeException("output " + dir + " cannot be created: " + existing + " is a file");
        }
        if (latestCheckpoint().isPresent()) {
            throw new RecipeException("output directory " + dir + " already holds a run; resume it with --resume " + dir
                    + " or choose another output");
        }
        if (Files.exists(finalOutput())) {
            throw new RecipeException("output directory " + dir + " holds a finished run (" + finalOutput().getFileName()
                    + "/); choose another output");
        }
        for (Path p : entries()) {
            if (!isRunLeftover(p.getFileName().toString())) {
                throw new RecipeException("output directory " + dir + " holds '" + p.getFileName()
                        + "', which is not part of a run; choose another output");
            }
        }
    }

    /**
     * Starts a new run (see {@link #checkNew}); what a run that stopped before its first checkpoint
     * left is removed first, so its events are not mixed with this run's. Returns whether there was any.
     */
    public boolean create(String recipeYaml) throws IOException {
        if (!writes) {
            return false;
        }
        checkNew();
        List<Path> stale = entries();
        for (Path p : stale) {
            AtomicDirectory.deleteTree(p);
        }
        try {
            Files.createDirectories(dir);
        } catch (FileSystemException e) {
            // A name too long, a parent that is a file, no permission: the output key is at fault, not the machine.
            throw new RecipeException("output " + dir + " cannot be created: " + (e.getReason() != null ? e.getReason() : e.getClass().getSimpleName()));
        }
        writeAtomically(dir.resolve(RECIPE), recipeYaml);
        return !stale.isEmpty();
    }

    /** Files a run writes before its first checkpoint, and temporaries a kill can leave (see {@link AtomicDirectory}). */
    private static boolean isRunLeftover(String name) {
        return name.equals(RECIPE) || name.equals(EVENTS) || name.matches(CHECKPOINT_PREFIX + "\\d+")
                || name.startsWith(".") && name.contains(".tmp");
    }

    private List<Path> entries() throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.toList();
        }
    }

    String recipe() throws IOException {
        Path p = dir.resolve(RECIPE);
        if (!Files.exists(p)) {
            throw new RecipeException(dir + " is not a run directory: it has no " + RECIPE);
        }
        return Files.readString(p);
    }

    /** The newest complete checkpoint, if any (complete ones are renamed into place whole). */
    Optional<Path> latestCheckpoint() throws IOException {
        if (dir == null || !Files.isDirectory(dir)) {
            return Optional.empty();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().matches(CHECKPOINT_PREFIX + "\\d+"))
                    .filter(p -> Files.exists(p.resolve(Checkpoint.STATE)))
                    .max((a, b) -> Long.compare(stepOf(a), stepOf(b)));
        }
    }

    static long stepOf(Path checkpoint) {
        return Long.parseLong(checkpoint.getFileName().toString().substring(CHECKPOINT_PREFIX.length()));
    }

    Path checkpointDir(long step) {
        return dir.resolve(CHECKPOINT_PREFIX + step);
    }

    /** The control events of events.jsonl in the order they were applied; a line cut short by a crash is skipped. */
    List<ObjectNode> controlEvents() throws IOException {
        Path file = dir.resolve(EVENTS);
        List<ObjectNode> out = new ArrayList<>();
        if (!Files.exists(file)) {
            return out;
        }
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            try {
                if (json.readTree(line) instanceof ObjectNode n && "control".equals(n.path("type").asText())) {
                    out.add(n);
                }
            } catch (IOException e) {
                // a line cut short by a crash
            }
        }
        return out;
    }

    /**
     * Opens events.jsonl for appending, first dropping the events after {@code step}, and the
     * control events at that boundary itself: a resumed run repeats those steps and applies those
     * commands again, and must not report them twice.
     */
    void openEvents(long keepUpToStep) throws IOException {
        if (!writes) {
            return;
        }
        Path file = dir.resolve(EVENTS);
        if (Files.exists(file) && keepUpToStep >= 0) {
            List<String> kept = new ArrayList<>();
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                try {
                    JsonNode n = json.readTree(line);
                    long step = n == null ? 0 : n.path("step").asLong();
                    boolean control = n != null && "control".equals(n.path("type").asText());
                    if (n != null && (!n.has("step") || step < keepUpToStep || step == keepUpToStep && !control)) {
                        kept.add(line);
                    }
                } catch (IOException e) {
                    // a line cut short by a crash: drop it
                }
            }
            writeAtomically(file, kept.isEmpty() ? "" : String.join("\n", kept) + "\n");
        }
        events = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    /** Appends one event and flushes it, so a crash loses at most the line being written. */
    void event(ObjectNode e) throws IOException {
        if (!writes) {
            return;
        }
        events.write(json.writeValueAsString(e));
        events.write('\n');
        events.flush();
    }

    ObjectNode newEvent(String type) {
        return json.createObjectNode().put("type", type);
    }

    void close() throws IOException {
        if (events != null) {
            events.close();
        }
    }

    static void writeAtomically(Path target, String text) throws IOException {
        Path tmp = target.resolveSibling("." + target.getFileName() + ".tmp");
        Files.writeString(tmp, text, StandardCharsets.UTF_8);
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
