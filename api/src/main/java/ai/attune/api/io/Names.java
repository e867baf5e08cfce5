package ai.attune.api.io;

import java.util.Arrays;

/** Formatting of untrusted header text for error messages. */
final class Names {

    /** Names come from untrusted headers: cap them so a hostile file cannot make a megabyte message. */
    private static final int MAX_QUOTED = 120;

    private Names() {
    }

    /** {@code 'name'} with control characters escaped and overly long names cut, for messages. */
    static String quote(String name) {
        String cut = name.length() > MAX_QUOTED ? name.substring(0, MAX_QUOTED) + "..." : name;
        StringBuilder sb = new StringBuilder(cut.length() + 2).append('\'');
        for (int i = 0; i < cut.length(); i++) {
            char c = cut.charAt(i);
            if (c < 0x20 || c == 0x7f || c == 0x2028 || c == 0x2029) {
                sb.append(String.format("\\u%04x", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.append('\'').toString();
    }

    /** JSON text of a header value, cut for messages. */
    static String snippet(Object jsonValue) {
        String s = String.valueOf(jsonValue);
        return oneLine(s.length() > 60 ? s.substring(0, 60) + "..." : s);
    }

    static String shape(long[] shape) {
        return Arrays.toString(shape);
    }

    /** Messages must stay one line even when they embed parser output. */
    static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("[\\r\\n\\u2028\\u2029]+", " ").strip();
    }
}
