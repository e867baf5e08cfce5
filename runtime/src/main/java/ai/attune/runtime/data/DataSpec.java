package ai.attune.runtime.data;

/**
 * The recipe's {@code data} block.
 *
 * @param format    an installed data format ({@link DataFormats}; causal LM, {@link TrainingData}),
 *                  or classification ({@link ClassificationData})
 * @param maxSeqLen longest sequence in tokens; 0 means the model's position limit
 * @param truncate  cut longer sequences to the limit (keeping the head) instead of failing
 * @param dedup     remove exact and near duplicates (they are counted and logged either way)
 * @param balance   null, oversample or undersample: equalize class counts (classification only)
 */
public record DataSpec(String format, int maxSeqLen, boolean truncate, boolean dedup, String balance) {
    public static final String CLASSIFICATION = "classification";

    public DataSpec {
        // Which names are formats is the registry's to say (DataFormats); here only that there is one.
        if (format == null || format.isBlank()) {
            throw new IllegalArgumentException("data.format is missing; name an installed data format ('attune plugins' lists them)");
        }
        if (maxSeqLen < 0) {
            throw new IllegalArgumentException("data.max_seq_len is " + maxSeqLen + "; use a positive number of tokens (or 0 for the model's limit)");
        }
        if (balance != null && !balance.equals("oversample") && !balance.equals("undersample")) {
            throw new IllegalArgumentException("data.balance is " + balance + "; use oversample or undersample (or leave it out)");
        }
        if (balance != null && !format.equals(CLASSIFICATION)) {
            throw new IllegalArgumentException("data.balance applies to classification data only, not to format " + format);
        }
    }

    /** The length limit for a model with {@code modelMaxPositions} positions. */
    public int limit(int modelMaxPositions) {
        return maxSeqLen == 0 ? modelMaxPositions : Math.min(maxSeqLen, modelMaxPositions);
    }
}
