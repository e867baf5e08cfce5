package ai.attune.api.data;

import ai.attune.api.text.TextTokenizer;

/**
 * What encoding a sample may rely on.
 *
 * @param tokenizer the model's tokenizer
 * @param vocabSize the model's vocabulary size (its embedding rows), which pre-tokenized ids must
 *                  lie below; it may exceed the tokenizer's
 * @param limit     the length past which training cuts the example: labels there are never used,
 *                  so a format may leave them at {@link Example#IGNORE} rather than work them out;
 *                  the ids must still be all of the example's (its length is reported)
 */
public record EncodeContext(TextTokenizer tokenizer, int vocabSize, int limit) {}
