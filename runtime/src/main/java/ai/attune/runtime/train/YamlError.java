package ai.attune.runtime.train;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/**
 * A YAML (or JSON) parse error as one line with its position. SnakeYAML's own message spans
 * several lines (context, a source excerpt with a caret, the problem), and the command line prints
 * only the first, which would keep "while scanning a simple key" and lose what and where.
 */
public final class YamlError {
    private YamlError() {}

    /** {@code "line 21, column 10: could not find expected ':' (while scanning a simple key)"}. */
    public static String describe(JsonProcessingException e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof MarkedYAMLException m && m.getProblem() != null) {
                Mark at = m.getProblemMark();
                String where = at == null ? "" : "line " + (at.getLine() + 1) + ", column " + (at.getColumn() + 1) + ": ";
                String context = m.getContext() == null ? "" : " (" + m.getContext().strip() + ")";
                return where + m.getProblem().strip() + context;
            }
        }
        String message = firstLine(e.getOriginalMessage());
        JsonLocation at = e.getLocation();
        return at == null || at.getLineNr() < 1 ? message : "line " + at.getLineNr() + ", column " + at.getColumnNr() + ": " + message;
    }

    private static String firstLine(String s) {
        return s == null ? "" : s.lines().map(String::strip).filter(l -> !l.isEmpty()).findFirst().orElse("");
    }
}
