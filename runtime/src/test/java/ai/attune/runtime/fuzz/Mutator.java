package ai.attune.runtime.fuzz;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Structure-aware mutations of a valid seed, shared by every parser fuzz test. A JSON or YAML seed
 * is mutated as a tree (wrong types, hostile numbers, long strings, removed, renamed and duplicated
 * keys, deep nesting), then serialized, then sometimes corrupted as bytes (bit flips, invalid UTF-8,
 * truncation). What no tree can hold (duplicate keys, NaN, 10,000 levels of nesting, YAML tags and
 * aliases) is spliced into the text through placeholder strings. Line formats (CSV, ARFF, JSONL,
 * paragraphs) are mutated by lines and cells. Everything is drawn from one {@link Random}, so a
 * round's seed replays it exactly.
 */
public final class Mutator {
    /** How a document is written after its tree is mutated. */
    public enum Syntax { JSON, YAML }

    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    private static final String MARK = "zzfuzzmark";
    private static final byte[][] BAD_UTF8 = {{(byte) 0xff}, {(byte) 0xc0, (byte) 0x80}, {(byte) 0x80}, {(byte) 0xe2, (byte) 0x82},
            {(byte) 0xed, (byte) 0xa0, (byte) 0x80}, {(byte) 0xf8, (byte) 0x88, (byte) 0x80, (byte) 0x80, (byte) 0x80}, {(byte) 0xfe, (byte) 0xff}};
    private static final String PUNCTUATION = "{}[],:\"'-#&*!|>%@`\\\n\r\t =.0123456789eE";

    private final Random r;
    private final int maxString;
    private final ObjectMapper json = new ObjectMapper();
    private final ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
    /** Texts to splice in for placeholder i of the document being written. */
    private final List<String> splices = new ArrayList<>();

    public Mutator(Random random) {
        this(random, 2_000_000);
    }

    /** {@code maxString}: the longest string it writes, for parsers whose work per character is large (tokenizers). */
    public Mutator(Random random, int maxString) {
        this.r = random;
        this.maxString = maxString;
    }

    public Random random() {
        return r;
    }

    /** A mutated document from {@code seed}: tree mutations, byte mutations or both. */
    public byte[] document(JsonNode seed, Syntax syntax) {
        int how = r.nextInt(20);
        if (how < 3) {
            return bytes(write(seed, syntax)); // corrupt bytes of the valid document
        }
        JsonNode tree = tree(seed, syntax, 1 + r.nextInt(3));
        byte[] out = write(tree, syntax);
        return how < 6 ? bytes(out) : out;
    }

    /** A mutated JSONL file from rows: some rows mutated as trees, then maybe lines and bytes. */
    public byte[] jsonLines(List<? extends JsonNode> rows) {
        List<String> lines = new ArrayList<>();
        for (JsonNode row : rows) {
            lines.add(new String(write(row, Syntax.JSON), StandardCharsets.UTF_8));
        }
        int mutations = 1 + r.nextInt(3);
        for (int m = 0; m < mutations; m++) {
            int i = r.nextInt(lines.size());
            if (r.nextInt(4) == 0) {
                lineEdit(lines, i);
            } else {
                JsonNode t = tree(rows.get(Math.min(i, rows.size() - 1)), Syntax.JSON, 1 + r.nextInt(2));
                lines.set(i, new String(write(t, Syntax.JSON), StandardCharsets.UTF_8));
            }
        }
        byte[] out = String.join("\n", lines).concat(r.nextBoolean() ? "\n" : "").getBytes(StandardCharsets.UTF_8);
        return r.nextInt(5) == 0 ? bytes(out) : out;
    }

    /**
     * A mutated line format (CSV, ARFF, paragraphs): lines and the cells between {@code separator}s
     * edited, then maybe bytes.
     */
    public byte[] lines(String seed, char separator) {
        List<String> lines = new ArrayList<>(Arrays.asList(seed.split("\n", -1)));
        int mutations = 1 + r.nextInt(3);
        for (int m = 0; m < mutations; m++) {
            int i = r.nextInt(lines.size());
            if (r.nextInt(3) == 0) {
                lineEdit(lines, i);
            } else {
                lines.set(i, cellEdit(lines.get(i), separator));
            }
        }
        byte[] out = String.join("\n", lines).getBytes(StandardCharsets.UTF_8);
        return r.nextInt(4) == 0 ? bytes(out) : out;
    }

    /** The seed with {@code count} tree mutations applied to a copy; placeholders are resolved when it is written. */
    public JsonNode tree(JsonNode seed, Syntax syntax, int count) {
        JsonNode root = seed.deepCopy();
        for (int i = 0; i < count; i++) {
            List<Slot> slots = new ArrayList<>();
            collect(root, slots, 0);
            if (slots.isEmpty()) {
                return r.nextBoolean() ? hostileValue(syntax) : root;
            }
            Slot s = slots.get(r.nextInt(slots.size()));
            mutate(s, syntax);
        }
        return root;
    }

    /** Serializes a tree, splicing placeholder texts in; a tree that cannot be written is replaced by its seed text, corrupted. */
    public byte[] write(JsonNode tree, Syntax syntax) {
        String text;
        try {
            text = syntax == Syntax.JSON ? json.writeValueAsString(tree) : yaml.writeValueAsString(tree);
        } catch (Exception e) {
            text = tree.toString();
        }
        for (int i = splices.size() - 1; i >= 0; i--) {
            String mark = MARK + i + "x";
            text = text.replace("\"" + mark + "\"", splices.get(i)).replace("'" + mark + "'", splices.get(i)).replace(mark, splices.get(i));
        }
        splices.clear();
        return text.getBytes(StandardCharsets.UTF_8);
    }

    /** Byte-level corruption: bit flips, punctuation, invalid UTF-8, truncation, slices cut or repeated. */
    public byte[] bytes(byte[] in) {
        byte[] out = in.clone();
        int n = out.length;
        switch (r.nextInt(8)) {
            case 0 -> {
                for (int k = 1 + r.nextInt(4); k > 0 && n > 0; k--) {
                    out[r.nextInt(n)] ^= (byte) (1 << r.nextInt(8));
                }
            }
            case 1 -> {
                if (n > 0) {
                    out[r.nextInt(n)] = (byte) PUNCTUATION.charAt(r.nextInt(PUNCTUATION.length()));
                }
            }
            case 2 -> out = insert(out, r.nextInt(n + 1), BAD_UTF8[r.nextInt(BAD_UTF8.length)]);
            case 3 -> out = Arrays.copyOf(out, r.nextInt(n + 1));
            case 4 -> { // cut a slice
                int a = r.nextInt(n + 1);
                int b = Math.min(n, a + r.nextInt(40));
                out = concat(Arrays.copyOf(out, a), Arrays.copyOfRange(out, b, n));
            }
            case 5 -> { // repeat a slice
                int a = r.nextInt(n + 1);
                int b = Math.min(n, a + r.nextInt(40));
                out = insert(out, a, Arrays.copyOfRange(out, a, b));
            }
            case 6 -> out = insert(out, r.nextInt(n + 1), pick(new byte[][] {{0}, {'\r'}, {(byte) 0xef, (byte) 0xbb, (byte) 0xbf}, {'\t'}, {'\\'}}));
            default -> {
                if (n > 0) {
                    out[r.nextInt(n)] = (byte) r.nextInt(256);
                }
            }
        }
        return out;
    }

    /** A value a parser should never trust: a hostile number, string, container or (in text) raw token. */
    public JsonNode hostileValue(Syntax syntax) {
        return switch (r.nextInt(6)) {
            case 0, 1 -> hostileNumber();
            case 2 -> F.textNode(hostileString());
            case 3 -> splice(raw(syntax));
            case 4 -> r.nextBoolean() ? F.nullNode() : F.booleanNode(r.nextBoolean());
            default -> r.nextBoolean() ? F.arrayNode().add(hostileNumber()) : F.objectNode().set(hostileKey(), hostileNumber());
        };
    }

    public JsonNode hostileNumber() {
        return switch (r.nextInt(16)) {
            case 0 -> F.numberNode(0);
            case 1 -> F.numberNode(-1);
            case 2 -> F.numberNode(Integer.MAX_VALUE);
            case 3 -> F.numberNode(Integer.MIN_VALUE);
            case 4 -> F.numberNode(1L << 31);
            case 5 -> F.numberNode(Long.MAX_VALUE);
            case 6 -> F.numberNode(Long.MIN_VALUE);
            case 7 -> F.numberNode(BigInteger.ONE.shiftLeft(63));
            case 8 -> F.numberNode(BigInteger.ONE.shiftLeft(64).add(BigInteger.valueOf(r.nextInt(9))));
            case 9 -> F.numberNode(1e308);
            case 10 -> F.numberNode(-1e308);
            case 11 -> F.numberNode(4.9e-324);
            case 12 -> F.numberNode(r.nextInt(10) + 0.5);
            case 13 -> F.numberNode(new BigDecimal("1e400"));
            case 14 -> F.numberNode(-100);
            default -> F.numberNode(r.nextInt(1 << (1 + r.nextInt(20))));
        };
    }

    public String hostileString() {
        return switch (r.nextInt(14)) {
            case 0 -> "";
            case 1 -> pick(" ", "\t", "\n", "\r\n", "\u0000", "\u202e", "\ufeff", "\u00e9", "\ud83d\ude00");
            case 2 -> pick("null", "~", "true", "no", "-1", "0", "1e999", "NaN", "-Infinity", "0x10", "2147483648", "9223372036854775808");
            case 3 -> pick("../..", "/", "/dev/zero", "/proc/self/mem", "C:\\x", "file:///etc/passwd", "http://example.com/x", "a\u0000b");
            case 4 -> pick("${env:HOME}", "{{ 7 * 7 }}", "{% for x in y %}", "%s%n%d", "<|endoftext|>", "<s>", "</s>", "[CLS]", "\\u0041");
            case 5 -> pick("{", "}", "[", "]", "\"", "'", ",", ":", "- ", "#", "&a", "*a", "!!str", "? ", "|", ">", "*", "a)(b", "\\");
            case 6 -> longString(1_000 + r.nextInt(10_000));
            case 7 -> longString(100_000 + r.nextInt(400_000));
            case 8 -> r.nextInt(8) == 0 ? longString(2_000_000) : longString(r.nextInt(300));
            case 9 -> "x\n".repeat(1 + r.nextInt(Math.min(2000, maxString / 2)));
            case 10 -> ",\"".repeat(1 + r.nextInt(Math.min(500, maxString / 2)));
            default -> pick("text", "label", "model", "lora", "adamw", "linear", "cosine", "fp16", "bf16", "auto", "torch", "jvm", "assistant", "user");
        };
    }

    /** A long string of one repeated unit: ASCII, multi-byte UTF-8, a surrogate pair or separators. */
    public String longString(int length) {
        String unit = pick("a", "\u00e9", "\ud83d\ude00", " ", "\t", "ab c", "\u4e2d", "0", "\\n");
        return unit.repeat(Math.max(1, Math.min(length, maxString) / unit.length()));
    }

    public String hostileKey() {
        return switch (r.nextInt(6)) {
            case 0 -> "";
            case 1 -> pick("__proto__", "constructor", "null", "<<", "\u0000", " ", "$ref", "a.b", "*");
            case 2 -> longString(1 + r.nextInt(5000));
            default -> "extra" + r.nextInt(100);
        };
    }

    /** Raw text no tree can hold: non-JSON numbers, 10,000 levels of nesting, unbalanced punctuation and, in YAML, tags and aliases. */
    public String raw(Syntax syntax) {
        int k = r.nextInt(syntax == Syntax.YAML ? 7 : 5);
        return switch (k) {
            case 0 -> pick("NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e-999", "0x1F", "007", "+5", ".5", "5.", "1_000",
                    "99999999999999999999999999999999999", "-0", "9223372036854775808", "-9223372036854775809");
            case 1 -> nested(pick(1_001, 10_000, 50_000), r.nextBoolean());
            case 2 -> nested(900 + r.nextInt(200), r.nextBoolean());
            case 3 -> pick("[", "{", "]", "}", "\"abc", "[1,]", "{\"a\"}", "{\"a\":}", "tru", "nul", ",", "//c", "/*c*/1",
                    "\"\\ud800\"", "\"x\\udc00\"", "\"\\u0000\"", "\"\\x41\"");
            case 4 -> "[" + "1,".repeat(1 + r.nextInt(100_000)) + "1]";
            case 5 -> pick(".nan", ".inf", "-.inf", "~", "!!binary AAAA", "!!float abc", "!!int 1.5", "!!str 1", "!!set {a, b}",
                    "!!timestamp 2001-12-14", "!!python/object:os.system x", "&anchor 1", "*undefined", "!custom 1", "0o17", "0b101",
                    "1:20", "2001-12-14", "'single'", "|\n  block", "{a: 1, a: 2}", "[*a]");
            default -> billionLaughs();
        };
    }

    /** YAML aliases that expand exponentially if a parser expands them blindly. */
    private String billionLaughs() {
        StringBuilder b = new StringBuilder("[&a0 [x, x]");
        for (int i = 1; i < 12; i++) {
            b.append(", &a").append(i).append(" [*a").append(i - 1).append(", *a").append(i - 1).append(']');
        }
        return b.append(']').toString();
    }

    private static String nested(int depth, boolean arrays) {
        return arrays ? "[".repeat(depth) + "]".repeat(depth) : "{\"a\":".repeat(depth) + "1" + "}".repeat(depth);
    }

    @SafeVarargs
    public final <T> T pick(T... options) {
        return options[r.nextInt(options.length)];
    }

    // ---- tree mutations ----

    /** A place in a tree: a key of an object or an index of an array. */
    private record Slot(JsonNode parent, String key, int index) {
        JsonNode get() {
            return key != null ? parent.get(key) : parent.get(index);
        }

        void set(JsonNode v) {
            if (key != null) {
                ((ObjectNode) parent).set(key, v);
            } else {
                ((ArrayNode) parent).set(index, v);
            }
        }
    }

    private void collect(JsonNode node, List<Slot> out, int depth) {
        if (depth > 50 || out.size() > 2000) {
            return;
        }
        if (node instanceof ObjectNode o) {
            for (String k : iterable(o)) {
                out.add(new Slot(o, k, -1));
                collect(o.get(k), out, depth + 1);
            }
        } else if (node instanceof ArrayNode a) {
            for (int i = 0; i < a.size(); i++) {
                out.add(new Slot(a, null, i));
                collect(a.get(i), out, depth + 1);
            }
        }
    }

    private static List<String> iterable(ObjectNode o) {
        List<String> keys = new ArrayList<>();
        o.fieldNames().forEachRemaining(keys::add);
        return keys;
    }

    private void mutate(Slot s, Syntax syntax) {
        JsonNode v = s.get();
        switch (r.nextInt(12)) {
            case 0 -> s.set(wrongType(v));
            case 1 -> s.set(hostileNumber());
            case 2 -> s.set(F.textNode(hostileString()));
            case 3 -> s.set(splice(raw(syntax)));
            case 4 -> remove(s);
            case 5 -> rename(s);
            case 6 -> duplicate(s);
            case 7 -> { // an unknown sibling key, or an extra array element
                if (s.parent() instanceof ObjectNode o) {
                    o.set(hostileKey(), hostileValue(syntax));
                } else {
                    ((ArrayNode) s.parent()).insert(r.nextInt(s.parent().size() + 1), r.nextBoolean() ? v.deepCopy() : hostileValue(syntax));
                }
            }
            case 8 -> { // a container emptied, or blown up
                if (v instanceof ArrayNode a) {
                    if (r.nextBoolean()) {
                        a.removeAll();
                    } else { // its elements repeated in turn: thousands of rows, turns, ids
                        if (a.isEmpty()) {
                            a.add(1);
                        }
                        // Up to 20,000 more elements, but a few megabytes at most: copies of a long string would make gigabytes.
                        int n = (int) Math.min(r.nextInt(20_000), 4_000_000L * a.size() / (a.toString().length() + 1));
                        for (int i = 0, size = a.size(); i < n; i++) {
                            a.add(a.get(i % size).deepCopy());
                        }
                    }
                } else if (v instanceof ObjectNode o) {
                    o.removeAll();
                } else {
                    s.set(F.arrayNode().add(v));
                }
            }
            case 9 -> s.set(v.isTextual() ? F.textNode(edit(v.asText())) : numberNear(v));
            case 10 -> s.set(r.nextBoolean() ? F.nullNode() : F.objectNode().set(hostileKey(), v));
            default -> s.set(r.nextBoolean() ? F.textNode(v.isTextual() ? v.asText() + hostileString() : v.toString()) : wrongType(v));
        }
    }

    /** The same content in another JSON type: 8 -> "8", "8" -> 8, x -> [x], x -> {x}, -> null, -> bool. */
    private JsonNode wrongType(JsonNode v) {
        return switch (r.nextInt(7)) {
            case 0 -> F.textNode(v.isTextual() ? v.asText() : v.toString());
            case 1 -> v.isTextual() ? parseNumber(v.asText()) : F.numberNode(v.size());
            case 2 -> F.arrayNode().add(v.deepCopy());
            case 3 -> F.objectNode().set("value", v.deepCopy());
            case 4 -> F.nullNode();
            case 5 -> F.booleanNode(r.nextBoolean());
            default -> v.isContainerNode() ? F.textNode(v.toString()) : F.arrayNode();
        };
    }

    private JsonNode parseNumber(String s) {
        try {
            return F.numberNode(new BigDecimal(s.strip()));
        } catch (NumberFormatException e) {
            return F.numberNode(s.length());
        }
    }

    /** A number beside the original: off by one, negated, scaled, fractional. */
    private JsonNode numberNear(JsonNode v) {
        if (!v.isNumber()) {
            return hostileNumber();
        }
        BigDecimal d = v.decimalValue();
        return F.numberNode(switch (r.nextInt(6)) {
            case 0 -> d.add(BigDecimal.ONE);
            case 1 -> d.subtract(BigDecimal.ONE);
            case 2 -> d.negate();
            case 3 -> d.multiply(BigDecimal.valueOf(1L << 30));
            case 4 -> d.add(new BigDecimal("0.5"));
            default -> BigDecimal.ZERO;
        });
    }

    /** A typo: a character dropped, doubled, swapped or changed case, or blanks around. */
    private String edit(String s) {
        if (s.isEmpty()) {
            return pick(" ", "x");
        }
        int i = r.nextInt(s.length());
        return switch (r.nextInt(6)) {
            case 0 -> s.substring(0, i) + s.substring(i + 1);
            case 1 -> s.substring(0, i) + s.charAt(i) + s.substring(i);
            case 2 -> i + 1 < s.length() ? s.substring(0, i) + s.charAt(i + 1) + s.charAt(i) + s.substring(i + 2) : s + s;
            case 3 -> s.toUpperCase();
            case 4 -> " " + s + " ";
            default -> s.substring(0, i);
        };
    }

    private void remove(Slot s) {
        if (s.parent() instanceof ObjectNode o) {
            o.remove(s.key());
        } else {
            ((ArrayNode) s.parent()).remove(s.index());
        }
    }

    private void rename(Slot s) {
        if (s.parent() instanceof ObjectNode o) {
            JsonNode v = o.remove(s.key());
            o.set(r.nextBoolean() ? edit(s.key()) : hostileKey(), v);
        } else {
            ((ArrayNode) s.parent()).add(s.get().deepCopy()); // arrays have no names: move the element to the end
            ((ArrayNode) s.parent()).remove(s.index());
        }
    }

    /** The key twice in one object (only text can say that), with the same or another value. */
    private void duplicate(Slot s) {
        if (s.parent() instanceof ObjectNode o) {
            String mark = MARK + splices.size() + "x";
            splices.add(quoteKey(s.key()));
            o.set(mark, r.nextBoolean() ? s.get().deepCopy() : hostileNumber());
        } else {
            ((ArrayNode) s.parent()).insert(s.index(), s.get().deepCopy());
        }
    }

    private String quoteKey(String key) {
        try {
            return json.writeValueAsString(key);
        } catch (Exception e) {
            return "\"" + key + "\"";
        }
    }

    private JsonNode splice(String text) {
        String mark = MARK + splices.size() + "x";
        splices.add(text);
        return F.textNode(mark);
    }

    // ---- line mutations ----

    private void lineEdit(List<String> lines, int i) {
        switch (r.nextInt(7)) {
            case 0 -> lines.remove(i);
            case 1 -> lines.add(i, lines.get(i));
            case 2 -> lines.set(i, "");
            case 3 -> lines.add(i, hostileString().replace("\n", " "));
            case 4 -> { // two lines joined into one
                if (i + 1 < lines.size()) {
                    lines.set(i, lines.get(i) + lines.remove(i + 1));
                }
            }
            case 5 -> lines.set(i, lines.get(i).substring(0, r.nextInt(lines.get(i).length() + 1)));
            default -> {
                int j = r.nextInt(lines.size());
                String t = lines.get(i);
                lines.set(i, lines.get(j));
                lines.set(j, t);
            }
        }
        if (lines.isEmpty()) {
            lines.add("");
        }
    }

    private String cellEdit(String line, char separator) {
        List<String> cells = new ArrayList<>(Arrays.asList(line.split(java.util.regex.Pattern.quote(String.valueOf(separator)), -1)));
        int i = r.nextInt(cells.size());
        switch (r.nextInt(8)) {
            case 0 -> cells.remove(i);
            case 1 -> cells.add(i, cells.get(i));
            case 2 -> cells.set(i, hostileString());
            case 3 -> cells.set(i, pick("\"", "'", "\"\"", "\"a\"b", "'a", "\\", "{", "?", "@data", "@attribute", "%", "\"x\ny\""));
            case 4 -> cells.set(i, edit(cells.get(i)));
            case 5 -> cells.set(i, "");
            case 6 -> {
                for (int k = 0, n = r.nextInt(5000); k < n; k++) {
                    cells.add("c" + k);
                }
            }
            default -> cells.set(i, F.textNode(hostileString()).toString()); // a JSON-quoted value
        }
        return String.join(String.valueOf(separator), cells);
    }

    // ---- bytes ----

    private static byte[] insert(byte[] a, int at, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, at);
        System.arraycopy(b, 0, out, at, b.length);
        System.arraycopy(a, at, out, at + b.length, a.length - at);
        return out;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        return insert(a, a.length, b);
    }
}
