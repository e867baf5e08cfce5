package ai.attune.runtime.classify;

import ai.attune.api.spi.TrainingThroughput;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;
import java.util.function.ToDoubleFunction;

/**
 * Baseline (frozen body + head) against the fine-tuned classifier, seed by seed on the same
 * few-shot sample and eval set. Seeds vary the sample, so both columns swing together; the
 * per-seed difference removes that shared swing, and its mean ± standard error (sample std of the
 * differences / sqrt(n)) is what says whether a gain of a few points is more than noise. Each
 * column alone is reported as mean ± sample std (n - 1).
 *
 * @param method   the fine-tuning method's name, which labels its column
 * @param baseline whether rows carry baseline scores
 * @param finetune whether rows carry the fine-tuned classifier's scores
 */
public record PairedReport(String method, boolean baseline, boolean finetune, List<Row> rows) {
    /** Differences closer to 0 than this are rounding of equal scores, counted as ties. */
    static final double TIE = 1e-9;

    /** Accuracy and macro-F1 of one classifier on the eval set. */
    public record Scores(double accuracy, double macroF1) {
        static final List<String> NAMES = List.of("accuracy", "macro-F1");

        double get(int metric) {
            return metric == 0 ? accuracy : macroF1;
        }
    }

    /**
     * One seed: its sample size, the baseline's and the fine-tuned classifier's scores (null where
     * not run) and what training the body cost (null where the body was not trained).
     */
    public record Row(long seed, int trainExamples, Scores baseline, Scores finetuned, TrainingThroughput body) {}

    /** Mean and sample standard deviation (n - 1; NaN for one value). */
    public record Stat(double mean, double std) {
        static Stat of(double[] x) {
            double mean = 0;
            for (double v : x) {
                mean += v / x.length;
            }
            double ss = 0;
            for (double v : x) {
                ss += (v - mean) * (v - mean);
            }
            return new Stat(mean, x.length < 2 ? Double.NaN : Math.sqrt(ss / (x.length - 1)));
        }
    }

    /**
     * The per-seed differences (fine-tuned - baseline): their mean, sample std, the mean's standard
     * error std / sqrt(n) (NaN for one seed), and on how many seeds fine-tuning won, tied or lost.
     */
    public record Paired(double mean, double std, double standardError, int won, int tied, int lost) {
        static Paired of(double[] base, double[] tuned) {
            double[] d = new double[base.length];
            int won = 0;
            int lost = 0;
            for (int i = 0; i < d.length; i++) {
                d[i] = tuned[i] - base[i];
                won += d[i] > TIE ? 1 : 0;
                lost += d[i] < -TIE ? 1 : 0;
            }
            Stat s = Stat.of(d);
            return new Paired(s.mean(), s.std(), s.std() / Math.sqrt(d.length), won, d.length - won - lost, lost);
        }
    }

    public PairedReport(String method, boolean baseline, boolean finetune) {
        this(method, baseline, finetune, new ArrayList<>());
    }

    public void add(Row row) {
        if ((row.baseline() != null) != baseline || (row.finetuned() != null) != finetune) {
            throw new IllegalArgumentException("seed " + row.seed() + ": the row's scores do not match the report's columns");
        }
        rows.add(row);
    }

    public Stat stat(boolean ofBaseline, int metric) {
        return Stat.of(column(r -> (ofBaseline ? r.baseline() : r.finetuned()).get(metric)));
    }

    public Paired paired(int metric) {
        return Paired.of(column(r -> r.baseline().get(metric)), column(r -> r.finetuned().get(metric)));
    }

    private double[] column(ToDoubleFunction<Row> f) {
        return rows.stream().mapToDouble(f).toArray();
    }

    private boolean both() {
        return baseline && finetune;
    }

    /** The two header lines over {@link #rowLine}'s columns. */
    public String rowHeader() {
        StringBuilder groups = new StringBuilder(String.format("%-8s", ""));
        StringBuilder names = new StringBuilder(String.format("%-8s", "seed"));
        for (String g : groupNames()) {
            groups.append(String.format("%-20s", g));
            names.append(String.format("%-10s%-10s", "accuracy", "macro-F1"));
        }
        return groups.toString().stripTrailing() + "\n" + names.toString().stripTrailing() + "\n";
    }

    /** One seed's scores, and with both classifiers the difference. */
    public String rowLine(Row r) {
        StringBuilder sb = new StringBuilder(String.format("%-8d", r.seed()));
        if (baseline) {
            sb.append(String.format("%-10.4f%-10.4f", r.baseline().accuracy(), r.baseline().macroF1()));
        }
        if (finetune) {
            sb.append(String.format("%-10.4f%-10.4f", r.finetuned().accuracy(), r.finetuned().macroF1()));
        }
        if (both()) {
            sb.append(String.format("%-+10.4f%+.4f", r.finetuned().accuracy() - r.baseline().accuracy(), r.finetuned().macroF1() - r.baseline().macroF1()));
        }
        return sb.toString().stripTrailing() + "\n";
    }

    private List<String> groupNames() {
        List<String> out = new ArrayList<>();
        if (baseline) {
            out.add("baseline");
        }
        if (finetune) {
            out.add(method);
        }
        if (both()) {
            out.add(method + " - baseline");
        }
        return out;
    }

    /**
     * The summary table: each classifier's mean ± std and, with both, the mean paired difference
     * ± its standard error and the won/tied/lost count. One seed prints the values alone.
     */
    public String summary() {
        int n = rows.size();
        StringBuilder sb = new StringBuilder();
        if (n > 1) {
            sb.append(String.format("%d seeds (%d-%d): mean ± sample std%s%n", n, rows.getFirst().seed(), rows.getLast().seed(),
                    both() ? "; the difference paired by seed: mean ± standard error" : ""));
        }
        sb.append(String.format("%-28s %-20s %s%n", "", Scores.NAMES.get(0), Scores.NAMES.get(1)));
        if (baseline) {
            sb.append(line("baseline (frozen + head)", k -> format(stat(true, k), false)));
        }
        if (finetune) {
            sb.append(line(method + " (fine-tuned + head)", k -> format(stat(false, k), false)));
        }
        if (both()) {
            sb.append(line(method + " - baseline", k -> {
                Paired p = paired(k);
                return format(new Stat(p.mean(), p.standardError()), true);
            }));
            if (n > 1) {
                sb.append(line(method + " won/tied/lost", k -> {
                    Paired p = paired(k);
                    return p.won() + "/" + p.tied() + "/" + p.lost();
                }));
            }
        }
        return sb.toString();
    }

    private static String line(String label, IntFunction<String> cell) {
        return String.format("%-28s %-20s %s%n", label, cell.apply(0), cell.apply(1));
    }

    private static String format(Stat s, boolean signed) {
        String mean = String.format(signed ? "%+.4f" : "%.4f", s.mean());
        return Double.isNaN(s.std()) ? mean : mean + String.format(" ± %.4f", s.std());
    }

    /**
     * {@code into} (the run's description) with {@code rows}, one object per seed, and
     * {@code summary}; metric keys are {@code accuracy} and {@code macro_f1}, the fine-tuned
     * classifier's key is the method's name. {@code peakGflops} is the FMA peak that the body
     * training's MFU is against. Values that do not exist (one seed's std, an unknown peak's MFU)
     * are null.
     */
    public ObjectNode toJson(ObjectNode into, double peakGflops) {
        if (rows.stream().anyMatch(r -> r.body() != null)) {
            number(into, "fma_peak_gflops", peakGflops);
        }
        ArrayNode rowsJson = into.putArray("rows");
        for (Row r : rows) {
            ObjectNode o = rowsJson.addObject().put("seed", r.seed()).put("train_examples", r.trainExamples());
            if (baseline) {
                o.set("baseline", scores(r.baseline()));
            }
            if (finetune) {
                o.set(method, scores(r.finetuned()));
            }
            if (both()) {
                o.set("difference", scores(new Scores(r.finetuned().accuracy() - r.baseline().accuracy(), r.finetuned().macroF1() - r.baseline().macroF1())));
            }
            if (r.body() != null) {
                TrainingThroughput t = r.body();
                ObjectNode b = o.putObject("body_training").put("steps", t.steps()).put("seconds", t.seconds()).put("tokens", t.tokens())
                        .put("padded_tokens", t.paddedTokens()).put("parameters", t.parameters()).put("steps_per_second", t.stepsPerSecond())
                        .put("tokens_per_second", t.tokensPerSecond()).put("padded_tokens_per_second", t.paddedTokensPerSecond());
                number(b, "mfu", t.mfu(peakGflops));
            }
        }
        ObjectNode summary = into.putObject("summary").put("seeds", rows.size());
        for (boolean ofBaseline : new boolean[] {true, false}) {
            if (ofBaseline ? baseline : finetune) {
                ObjectNode side = summary.putObject(ofBaseline ? "baseline" : method);
                for (int k = 0; k < 2; k++) {
                    Stat s = stat(ofBaseline, k);
                    ObjectNode m = side.putObject(key(k)).put("mean", s.mean());
                    number(m, "std", s.std());
                }
            }
        }
        if (both()) {
            ObjectNode diff = summary.putObject("difference");
            for (int k = 0; k < 2; k++) {
                Paired p = paired(k);
                ObjectNode m = diff.putObject(key(k)).put("mean", p.mean());
                number(m, "std", p.std());
                number(m, "standard_error", p.standardError());
                m.put("won", p.won()).put("tied", p.tied()).put("lost", p.lost());
            }
        }
        return into;
    }

    private static ObjectNode scores(Scores s) {
        return JsonNodeFactory.instance.objectNode().put("accuracy", s.accuracy()).put("macro_f1", s.macroF1());
    }

    private static String key(int metric) {
        return metric == 0 ? "accuracy" : "macro_f1";
    }

    /** JSON has no NaN: a value that does not exist is null. */
    private static void number(ObjectNode o, String key, double v) {
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            o.putNull(key);
        } else {
            o.put(key, v);
        }
    }
}
