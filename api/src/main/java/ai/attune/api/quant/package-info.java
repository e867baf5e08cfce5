/**
 * Quantization code books shared by techniques that would otherwise each carry a copy: the
 * bitsandbytes dynamic maps that 4-bit double quantization and the 8-bit optimizers code their
 * numbers with. Quantizers themselves are {@link ai.attune.api.spi.Quantizer} plugins.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.1.0")
package ai.attune.api.quant;
