/**
 * Reading and writing model weights in the safetensors format.
 *
 * <p>A safetensors file is an 8-byte little-endian header length {@code N}, {@code N} bytes of UTF-8
 * JSON naming each tensor's dtype, shape and byte range, then the raw little-endian, row-major
 * tensor bytes. {@link ai.attune.api.io.SafetensorsFile} memory-maps one file and validates its
 * header eagerly, as strictly as the reference Rust implementation, so that every later slice is
 * known to lie inside the file; {@link ai.attune.api.io.ShardedSafetensors} presents a
 * {@code model.safetensors.index.json} checkpoint through the same
 * {@link ai.attune.api.io.SafetensorsReader} API; {@link ai.attune.api.io.SafetensorsWriter} writes
 * files atomically. Malformed input is reported as a
 * {@link ai.attune.api.io.SafetensorsException}, a one-line {@link java.io.IOException} naming the
 * file and the reason.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.1.0")
package ai.attune.api.io;
