package ai.attune.runtime.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Set;

/**
 * A command that steers a running job at its next step boundary, sent over
 * {@code attune.jobs.<id>.control} or {@code POST /jobs/<id>/control}:
 * <ul>
 *   <li>{@code {"command": "scale_lr", "factor": 0.5}}: every later learning rate is the schedule's times the
 *       product of all factors so far;</li>
 *   <li>{@code {"command": "checkpoint"}}: save a checkpoint now;</li>
 *   <li>{@code {"command": "evaluate"}}: evaluate now;</li>
 *   <li>{@code {"command": "cadence", "eval_every": N, "save_every": M}}: the recipe keys of the same
 *       names from now on (either may be left out; 0 turns it off).</li>
 * </ul>
 * An applied command is written to events.jsonl with the step boundary it took effect at, so a
 * resumed run applies it again at the same boundary and repeats the same steps.
 */
public record ControlCommand(String command, double factor, Integer evalEvery, Integer saveEvery) {
    public static final String SCALE_LR = "scale_lr";
    public static final String CHECKPOINT = "checkpoint";
    public static final String EVALUATE = "evaluate";
    public static final String CADENCE = "cadence";
    private static final Set<String> COMMANDS = Set.of(SCALE_LR, CHECKPOINT, EVALUATE, CADENCE);

    /** A checkpoint requested by the runtime itself, e.g. before a job waits for a departed plugin. */
    public static ControlCommand checkpoint() {
        return new ControlCommand(CHECKPOINT, 1, null, null);
    }

    /** Reads a command; anything malformed is an {@link IllegalArgumentException} with one line naming the key. */
    public static ControlCommand parse(JsonNode body) {
        if (body == null || !body.isObject()) {
            throw new IllegalArgumentException("a control command is an object such as {\"command\": \"scale_lr\", \"factor\": 0.5}");
        }
        String command = body.path("command").asText("");
        if (!COMMANDS.contains(command)) {
            throw new IllegalArgumentException("command must be one of " + new java.util.TreeSet<>(COMMANDS) + ", not '" + body.path("command").asText() + "'");
        }
        Set<String> allowed = switch (command) {
            case SCALE_LR -> Set.of("command", "factor");
            case CADENCE -> Set.of("command", "eval_every", "save_every");
            default -> Set.of("command");
        };
        body.fieldNames().forEachRemaining(k -> {
            if (!allowed.contains(k)) {
                throw new IllegalArgumentException(command + ": unknown key '" + k + "'; it takes " + new java.util.TreeSet<>(allowed));
            }
        });
        return switch (command) {
            case SCALE_LR -> {
                JsonNode f = body.get("factor");
                if (f == null || !f.isNumber() || !Double.isFinite(f.asDouble()) || f.asDouble() <= 0) {
                    throw new IllegalArgumentException("scale_lr: factor must be a finite number > 0, not " + (f == null ? "missing" : f.toString()));
                }
                yield new ControlCommand(command, f.asDouble(), null, null);
            }
            case CADENCE -> {
                Integer eval = every(body, "eval_every");
                Integer save = every(body, "save_every");
                if (eval == null && save == null) {
                    throw new IllegalArgumentException("cadence: give eval_every, save_every or both");
                }
                yield new ControlCommand(command, 1, eval, save);
            }
            default -> new ControlCommand(command, 1, null, null);
        };
    }

    private static Integer every(JsonNode body, String key) {
        JsonNode v = body.get(key);
        if (v == null) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 0) {
            throw new IllegalArgumentException("cadence: " + key + " must be a whole number of steps >= 0 (0 turns it off), not " + v);
        }
        return v.asInt();
    }

    /** The command inside a control event of events.jsonl: the event less its type and step. */
    static ObjectNode commandOf(ObjectNode event) {
        ObjectNode c = event.deepCopy();
        c.remove(java.util.List.of("type", "step"));
        return c;
    }

    /** The command's own keys, as parsed: written into its control event and echoed to the sender. */
    public ObjectNode writeTo(ObjectNode n) {
        n.put("command", command);
        if (command.equals(SCALE_LR)) {
            n.put("factor", factor);
        }
        if (evalEvery != null) {
            n.put("eval_every", evalEvery);
        }
        if (saveEvery != null) {
            n.put("save_every", saveEvery);
        }
        return n;
    }
}
