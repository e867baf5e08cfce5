/**
 * What a data format plugin ({@link ai.attune.api.spi.DataFormat}) works with: the {@link
 * ai.attune.api.data.Row}s the runtime reads from a data file (JSONL, CSV, ARFF, paragraphs of
 * text), the {@link ai.attune.api.data.Sample} a format makes of a row, and the tokenized {@link
 * ai.attune.api.data.Example} it makes of a sample. Every problem with a row is a one-line
 * {@link ai.attune.api.data.DataException} naming {@code file:line}.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.1.0")
package ai.attune.api.data;
