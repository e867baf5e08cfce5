package ai.attune.runtime.merge;

/** transformers' {@code max_shard_size} strings: {@code 5GB} is 5·10⁹ bytes, {@code 500MiB} 500·2²⁰, a bare number bytes. */
public final class ShardSize {
    private ShardSize() {}

    public static long parse(String s) {
        String t = s.strip().toUpperCase();
        long unit = 1;
        String[][] units = {{"KIB", "1024"}, {"MIB", "1048576"}, {"GIB", "1073741824"}, {"KB", "1000"}, {"MB", "1000000"},
                {"GB", "1000000000"}, {"B", "1"}};
        for (String[] u : units) {
            if (t.endsWith(u[0])) {
                unit = Long.parseLong(u[1]);
                t = t.substring(0, t.length() - u[0].length()).strip();
                break;
            }
        }
        try {
            double v = Double.parseDouble(t);
            if (!(v > 0) || v * unit > Long.MAX_VALUE) {
                throw new NumberFormatException();
            }
            return (long) (v * unit);
        } catch (NumberFormatException e) {
            throw new MergeException("--max-shard-size: '" + s + "' is not a size such as 5GB, 500MB or 2GiB");
        }
    }
}
