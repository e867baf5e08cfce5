package ai.attune.runtime.plan;

import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Memory sizes as people write them. Units follow accelerate's {@code max_memory} strings: {@code GB}
 * is 10^9 bytes and {@code GiB} 2^30, so "24GB" and "24GiB" are different budgets, as they are
 * there. Sizes are printed in binary units, as nvidia-smi and {@code free} print them.
 */
public final class ByteSize {
    private static final Pattern SIZE = Pattern.compile("\\s*([0-9]+(?:\\.[0-9]+)?)\\s*([a-zA-Z]*)\\s*");
    private static final Map<String, Long> UNITS = Map.ofEntries(
            Map.entry("", 1L), Map.entry("b", 1L),
            Map.entry("kb", 1_000L), Map.entry("mb", 1_000_000L), Map.entry("gb", 1_000_000_000L), Map.entry("tb", 1_000_000_000_000L),
            Map.entry("kib", 1L << 10), Map.entry("mib", 1L << 20), Map.entry("gib", 1L << 30), Map.entry("tib", 1L << 40));

    private ByteSize() {}

    /** "24GB", "22.5GiB", "512MiB" or a byte count; anything else is refused naming what was given. */
    public static long parse(String text) {
        Matcher m = SIZE.matcher(text == null ? "" : text);
        Long unit = m.matches() ? UNITS.get(m.group(2).toLowerCase(Locale.ROOT)) : null;
        if (unit == null) {
            throw new IllegalArgumentException("'" + text + "' is not a memory size: write a number and a unit, e.g. 24GB (10^9 bytes) or 24GiB (2^30 bytes)");
        }
        double bytes = Double.parseDouble(m.group(1)) * unit;
        if (!(bytes >= 1) || bytes > Long.MAX_VALUE / 2) {
            throw new IllegalArgumentException("'" + text + "' is not a usable memory size: give at least one byte and at most an exabyte");
        }
        return Math.round(bytes);
    }

    /** {@code 1.25 GiB}, {@code 310.4 MiB}, {@code 12.0 KiB} or {@code 512 B}: the largest binary unit under the value. */
    public static String format(long bytes) {
        long a = Math.abs(bytes);
        if (a < 1L << 10) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        int i = 0;
        double v = bytes / 1024.0;
        while (i < units.length - 1 && Math.abs(v) >= 1024) {
            v /= 1024;
            i++;
        }
        return String.format(Locale.ROOT, "%.2f %s", v, units[i]);
    }

    /** The size as the user wrote it, for messages: "24GB (22.35 GiB)". */
    public static String asGiven(String text, long bytes) {
        String t = text.strip();
        return t.toLowerCase(Locale.ROOT).endsWith("ib") ? t : t + " (" + format(bytes) + ")";
    }
}
