package ai.attune.runtime.model;

import ai.attune.api.io.OnnxImport;
import ai.attune.api.io.SafetensorsReader;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Imports a {@link PretrainedEncoder} once into the model cache: {@code cacheDir/<name>} becomes a
 * Hugging Face model directory ({@code model.safetensors} from the ONNX export through
 * {@link OnnxImport}, the published {@code config.json}, {@code tokenizer.json}) with the
 * encoder's sentence-transformers files, and is reused afterwards.
 *
 * <p>The resources can come from three places, since inside OSGi a bundle's class loader does not
 * see the host's classpath: a {@link Source} the caller supplies (the runtime passes its own class
 * loader), the class loaders {@link #materialize(PretrainedEncoder, Path)} tries (this class's, the
 * thread's context loader, then the system class loader, which is the host's application
 * classpath), or two files.
 */
public final class OnnxEncoderImporter {
    /** Opens a named resource, or returns null when there is none (as {@link ClassLoader#getResourceAsStream}). */
    @FunctionalInterface
    public interface Source {
        InputStream open(String resource) throws IOException;
    }

    private OnnxEncoderImporter() {
    }

    /** {@code cacheDir/<name>}, with the resources looked up on the class loaders that can see them. */
    public static Path materialize(PretrainedEncoder encoder, Path cacheDir) throws IOException {
        List<ClassLoader> loaders = new ArrayList<>(new LinkedHashSet<>(Arrays.asList(
                OnnxEncoderImporter.class.getClassLoader(), Thread.currentThread().getContextClassLoader(), ClassLoader.getSystemClassLoader())));
        return materialize(encoder, cacheDir, resource -> {
            for (ClassLoader loader : loaders) {
                InputStream in = loader == null ? null : loader.getResourceAsStream(resource);
                if (in != null) {
                    return in;
                }
            }
            return null;
        });
    }

    /**
     * {@code cacheDir/<name>}, imported from {@code source}'s resources unless it is there already;
     * the resources are only opened when it is not.
     */
    public static Path materialize(PretrainedEncoder encoder, Path cacheDir, Source source) throws IOException {
        Path out = cacheDir.resolve(encoder.name());
        if (isComplete(out)) {
            return out;
        }
        Files.createDirectories(cacheDir);
        Path staging = cacheDir.resolve("." + encoder.name() + ".src-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong()));
        Files.createDirectory(staging);
        try {
            Path onnx = copy(encoder, source, encoder.onnxResource(), staging);
            Path tokenizer = copy(encoder, source, encoder.tokenizerResource(), staging);
            return materialize(encoder, cacheDir, onnx, tokenizer);
        } finally {
            for (String resource : encoder.resources()) {
                Files.deleteIfExists(staging.resolve(resource));
            }
            Files.deleteIfExists(staging);
        }
    }

    /** {@code cacheDir/<name>}, imported from the two files unless it is there already. */
    public static Path materialize(PretrainedEncoder encoder, Path cacheDir, Path onnxFile, Path tokenizerJson) throws IOException {
        Path out = cacheDir.resolve(encoder.name());
        if (isComplete(out)) {
            return out;
        }
        try {
            OnnxImport.writeHuggingFaceDir(onnxFile, tokenizerJson, encoder.configJson(), encoder.sentenceTransformersFiles(), out);
        } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
            // Another process imported it at the same time; its rename was atomic, so a present dir is whole.
            if (!isComplete(out)) {
                throw e;
            }
        }
        return out;
    }

    /** The import renames a finished directory into place, so its presence means it is whole. */
    private static boolean isComplete(Path dir) {
        return Files.isRegularFile(dir.resolve(SafetensorsReader.SINGLE_FILE)) && Files.isRegularFile(dir.resolve("config.json"))
                && Files.isRegularFile(dir.resolve("tokenizer.json"));
    }

    private static Path copy(PretrainedEncoder encoder, Source source, String resource, Path dir) throws IOException {
        Path target = dir.resolve(resource);
        try (InputStream in = source.open(resource)) {
            if (in == null) {
                throw new IOException("resource " + resource + " of " + encoder.name() + " is not on the classpath: add " + encoder.mavenArtifact());
            }
            Files.copy(in, target);
        }
        return target;
    }
}
