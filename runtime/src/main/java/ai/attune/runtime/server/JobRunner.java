package ai.attune.runtime.server;

import ai.attune.runtime.train.StepControl;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * What executes jobs: the real one trains through {@link ai.attune.runtime.train.TrainJob}; tests
 * plug in fast fakes so the HTTP, auth, path and persistence logic runs without Felix.
 */
public interface JobRunner {
    /**
     * Binds and checks a recipe whose {@code output} is already {@code runDir} (an existing empty
     * directory) and writes the run's {@code recipe.yaml}. Throws on a bad recipe, with a message a
     * user can act on.
     */
    void create(Path runDir, ObjectNode recipe) throws Exception;

    /**
     * Runs the job of {@code runDir} to its end, from its latest checkpoint if it has one. Called
     * on the job's own worker thread, which is its only thread for the whole run (tensor scopes
     * are thread-confined). {@code steps} receives each step event as it is also appended to
     * events.jsonl.
     */
    void run(Path runDir, StepControl control, Consumer<ObjectNode> steps) throws Exception;
}
