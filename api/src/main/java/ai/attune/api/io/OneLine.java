package ai.attune.api.io;

/**
 * Keeps an error message on one line of reasonable length. Messages quote what the user wrote (a
 * key, a path, a value), and that may hold line breaks or be a megabyte long; the command line
 * prints only a message's first line, so an unescaped break would cut off the rest of it.
 */
public final class OneLine {
    static final int MAX = 500;
    static final int TAIL = 120;

    private OneLine() {}

    /** Control characters escaped as in JSON; past {@value #MAX} characters the middle is cut, keeping the hint at the end. */
    public static String of(String message) {
        if (message == null) {
            return null;
        }
        StringBuilder b = new StringBuilder(Math.min(message.length(), MAX + 16));
        int n = message.length();
        for (int i = 0; i < n; i++) {
            if (b.length() >= MAX - TAIL && n - i > TAIL) {
                b.append(" ... ");
                i = n - TAIL;
            }
            char c = message.charAt(i);
            switch (c) {
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (Character.isISOControl(c) || c == '\u2028' || c == '\u2029' || c == '\u0085') {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.toString();
    }
}
