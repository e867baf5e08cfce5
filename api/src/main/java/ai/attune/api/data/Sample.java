package ai.attune.api.data;

/**
 * A row as its format reads it: its fields checked, nothing tokenized yet. A format's own record
 * implements this with the fields it keeps.
 */
public interface Sample {
    /** Where the sample came from, for the errors that encoding finds. */
    Row row();

    /** What the row says, as plain text: compared by duplicate detection; blank for an empty row, which is skipped. */
    String text();
}
