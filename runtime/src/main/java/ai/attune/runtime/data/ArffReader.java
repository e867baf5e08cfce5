package ai.attune.runtime.data;

import ai.attune.api.data.DataException;
import ai.attune.api.data.Row;
import ai.attune.api.io.TextFile;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Weka's ARFF (the format of many public text-classification sets): {@code @attribute} lines name
 * the columns, then each {@code @data} line is one row of comma-separated values, strings in
 * single or double quotes with backslash escapes ({@code \n}, {@code \'}, {@code \\}). Sparse
 * rows ({@code {0 x, 2 y}}) are refused by name.
 */
final class ArffReader {
    private ArffReader() {}

    static List<Row> read(Path file, ObjectMapper json) throws IOException {
        List<String> columns = new ArrayList<>();
        List<Row> rows = new ArrayList<>();
        boolean data = false;
        int lineNo = 0;
        String text;
        try {
            text = TextFile.read(file);
        } catch (TextFile.NotUtf8Exception e) {
            throw new DataException(file, e.line(), "not UTF-8 text");
        }
        for (String raw : text.lines().toList()) {
            lineNo++;
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("%")) {
                continue;
            }
            String lower = line.toLowerCase(Locale.ROOT);
            if (!data) {
                if (lower.startsWith("@attribute")) {
                    List<String> parts = values(file, lineNo, line.substring("@attribute".length()).strip(), ' ');
                    if (parts.isEmpty() || parts.getFirst().isEmpty()) {
                        throw new DataException(file, lineNo, "@attribute needs a name and a type");
                    }
                    columns.add(parts.getFirst());
                } else if (lower.startsWith("@data")) {
                    data = true;
                } else if (!lower.startsWith("@relation")) {
                    throw new DataException(file, lineNo, "expected @relation, @attribute or @data, found: " + abbreviate(line));
                }
                continue;
            }
            if (line.startsWith("{")) {
                throw new DataException(file, lineNo, "sparse ARFF rows are not supported");
            }
            List<String> values = values(file, lineNo, line, ',');
            if (values.size() != columns.size()) {
                throw new DataException(file, lineNo, columns.size() + " attributes " + columns + " but " + values.size() + " values");
            }
            ObjectNode fields = json.createObjectNode();
            for (int i = 0; i < values.size(); i++) {
                if (!values.get(i).equals("?")) { // ? is a missing value
                    fields.put(columns.get(i), values.get(i));
                }
            }
            rows.add(new Row(file, lineNo, fields));
        }
        if (!data) {
            throw new DataException(file + ": no @data section");
        }
        return rows;
    }

    /** Splits on {@code separator} outside quotes, unquoting and unescaping quoted values; blanks around values are dropped. */
    private static List<String> values(Path file, int lineNo, String line, char separator) throws DataException {
        List<String> out = new ArrayList<>();
        int i = 0;
        int n = line.length();
        while (i < n) {
            while (i < n && line.charAt(i) == ' ') {
                i++;
            }
            StringBuilder v = new StringBuilder();
            if (i < n && (line.charAt(i) == '\'' || line.charAt(i) == '"')) {
                char quote = line.charAt(i++);
                boolean closed = false;
                while (i < n) {
                    char c = line.charAt(i++);
                    if (c == '\\' && i < n) {
                        char e = line.charAt(i++);
                        v.append(switch (e) {
                            case 'n' -> '\n';
                            case 't' -> '\t';
                            case 'r' -> '\r';
                            default -> e;
                        });
                    } else if (c == quote) {
                        closed = true;
                        break;
                    } else {
                        v.append(c);
                    }
                }
                if (!closed) {
                    throw new DataException(file, lineNo, "unterminated quoted value");
                }
                while (i < n && line.charAt(i) != separator) {
                    i++;
                }
            } else {
                int start = i;
                while (i < n && line.charAt(i) != separator && !(separator == ' ' && line.charAt(i) == '\t')) {
                    i++;
                }
                v.append(line, start, i);
                if (separator == ' ') { // an @attribute line: the name, then the type as the rest
                    out.add(v.toString().strip());
                    out.add(line.substring(Math.min(i + 1, n)).strip());
                    return out;
                }
            }
            out.add(v.toString().strip());
            i++; // past the separator
        }
        return out;
    }

    private static String abbreviate(String s) {
        return s.length() > 60 ? s.substring(0, 60) + "..." : s;
    }
}
