package ai.attune.runtime.data;

import ai.attune.api.data.DataException;
import ai.attune.api.data.Row;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvParser;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reads a {@code .jsonl}, {@code .csv} or {@code .arff} file into {@link Row}s, skipping blank lines; a
 * {@code .txt} file gives one {@code text} row per paragraph (blank-line separated, line breaks
 * inside a paragraph joined with spaces), which suits prose wrapped at a fixed width; a file with
 * no blank line at all has one row per line, as the {@code text} loader of Hugging Face datasets.
 */
public final class RowReader {
    private final ObjectMapper json = new ObjectMapper();

    public List<Row> read(Path file) throws IOException {
        String name = file.getFileName() == null ? "" : file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "no such data file");
        }
        if (name.endsWith(".jsonl")) {
            return readJsonl(file);
        }
        if (name.endsWith(".csv")) {
            return readCsv(file);
        }
        if (name.endsWith(".txt")) {
            return readParagraphs(file);
        }
        if (name.endsWith(".arff")) {
            return ArffReader.read(file, json);
        }
        throw new DataException(file + ": unknown data file type; use .jsonl (one JSON object per line), .csv (with a header row), .arff or .txt (paragraphs)");
    }

    private List<Row> readParagraphs(Path file) throws IOException {
        boolean paragraphs;
        try (var lines = Files.lines(file, StandardCharsets.UTF_8)) {
            paragraphs = lines.anyMatch(String::isBlank);
        } catch (java.io.UncheckedIOException e) {
            throw new DataException(file + ": not UTF-8 text");
        }
        List<Row> rows = new ArrayList<>();
        StringBuilder para = new StringBuilder();
        int start = 0;
        int lineNo = 0;
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            while ((line = r.readLine()) != null) {
                lineNo++;
                if (line.isBlank() || !paragraphs) {
                    flush(file, rows, para, start);
                    if (line.isBlank()) {
                        continue;
                    }
                }
                if (para.isEmpty()) {
                    start = lineNo;
                } else {
                    para.append(' ');
                }
                para.append(line.strip());
            }
            flush(file, rows, para, start);
        } catch (CharacterCodingException e) {
            throw new DataException(file, lineNo + 1, "not UTF-8 text");
        }
        return rows;
    }

    private void flush(Path file, List<Row> rows, StringBuilder para, int start) {
        if (!para.isEmpty()) {
            rows.add(new Row(file, start, json.createObjectNode().put("text", para.toString())));
            para.setLength(0);
        }
    }

    private List<Row> readJsonl(Path file) throws IOException {
        List<Row> rows = new ArrayList<>();
        int lineNo = 0;
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            while ((line = r.readLine()) != null) {
                lineNo++;
                if (lineNo == 1 && line.startsWith("\uFEFF")) {
                    line = line.substring(1); // editors on Windows write a UTF-8 byte-order mark
                }
                if (line.isBlank()) {
                    continue;
                }
                JsonNode node;
                try {
                    node = json.readTree(line);
                } catch (JsonProcessingException e) {
                    throw new DataException(file, lineNo, "not valid JSON: " + e.getOriginalMessage().lines().findFirst().orElse(""));
                }
                if (!node.isObject()) {
                    throw new DataException(file, lineNo, "must be a JSON object, not " + Row.describe(node));
                }
                rows.add(new Row(file, lineNo, (ObjectNode) node));
            }
        } catch (CharacterCodingException e) {
            throw new DataException(file, lineNo + 1, "not UTF-8 text");
        }
        return rows;
    }

    /** CSV records may span lines (quoted newlines), so a row's line is the one its record starts on. */
    private List<Row> readCsv(Path file) throws IOException {
        CsvMapper csv = CsvMapper.builder().enable(CsvParser.Feature.SKIP_EMPTY_LINES).build();
        CsvSchema schema = CsvSchema.emptySchema().withHeader();
        List<Row> rows = new ArrayList<>();
        int line = 1;
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8);
             JsonParser p = csv.getFactory().createParser(r)) {
            ((CsvParser) p).setSchema(schema);
            while (true) {
                try {
                    if (p.nextToken() == null) {
                        break;
                    }
                    Row row = csvRecord(file, p, csv);
                    rows.add(row);
                    line = row.line();
                } catch (JsonProcessingException e) {
                    int at = e.getLocation() != null && e.getLocation().getLineNr() > 0 ? e.getLocation().getLineNr() : line;
                    throw new DataException(file, at, "not valid CSV: " + e.getOriginalMessage().lines().findFirst().orElse(""));
                }
            }
        } catch (CharacterCodingException e) {
            throw new DataException(file, line, "not UTF-8 text");
        }
        return rows;
    }

    /**
     * One record, from its START_OBJECT to its END_OBJECT. Its line is taken at its first value:
     * at START_OBJECT the parser still reports the end of the record before (or of skipped blank lines).
     */
    private static Row csvRecord(Path file, JsonParser p, CsvMapper csv) throws IOException {
        ObjectNode node = csv.createObjectNode();
        int line = -1;
        for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
            if (line < 0) {
                line = p.currentTokenLocation().getLineNr();
            }
            String field = p.currentName();
            p.nextToken();
            node.put(field, p.getText());
        }
        return new Row(file, line < 0 ? p.currentTokenLocation().getLineNr() : line, node);
    }
}
