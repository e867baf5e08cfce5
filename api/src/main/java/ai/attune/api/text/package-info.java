/**
 * A model's tokenizer as plugins see it ({@link ai.attune.api.text.TextTokenizer}): text to token
 * ids with the model's special-token rules, and its chat template. The runtime implements it over
 * the model directory's {@code tokenizer.json} and {@code tokenizer_config.json}.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.1.0")
package ai.attune.api.text;
