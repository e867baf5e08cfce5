package ai.attune.runtime.host;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HostExportsTest {
    @Test
    void versionsComeFromMavenFileNames() {
        assertEquals("5.0.7", HostExports.osgiVersion("vertx-core-5.0.7.jar", null));
        assertEquals("4.2.9.Final", HostExports.osgiVersion("netty-common-4.2.9.Final.jar", null));
        assertEquals("0.1.0.SNAPSHOT", HostExports.osgiVersion("attune-api-0.1.0-SNAPSHOT.jar", null));
        assertEquals("2.0.0", HostExports.osgiVersion("foo-2.jar", null));
        assertEquals("0.0.0", HostExports.osgiVersion("unversioned.jar", null));
    }

    @Test
    void plainJarsExportEveryPackageAndBundlesTheirHeader(@TempDir Path dir) throws IOException {
        Path plain = jar(dir.resolve("vertx-core-5.0.7.jar"), null, "io/vertx/core/Vertx.class", "io/vertx/core/impl/X.class", "META-INF/versions/9/x/Y.class");
        Path bundle = jar(dir.resolve("jackson-core-2.18.2.jar"), "com.fasterxml.jackson.core;version=\"2.18.2\"", "com/fasterxml/jackson/core/A.class");
        Path skipped = jar(dir.resolve("picocli-4.7.7.jar"), null, "picocli/CommandLine.class");

        String exports = HostExports.compute(List.of(plain, bundle, skipped), List.of("vertx-", "jackson-"));

        assertEquals("io.vertx.core;version=\"5.0.7\",io.vertx.core.impl;version=\"5.0.7\","
                + "com.fasterxml.jackson.core;version=\"2.18.2\","
                + "jdk.incubator.vector;version=\"" + Runtime.version().feature() + ".0.0\"", exports);
        assertTrue(!exports.contains("picocli"));
    }

    /** JavaCPP's header leaves out org.bytedeco.javacpp.chrono, which the pytorch presets' c10d classes take: it is exported beside the header. */
    @Test
    void bytedecoPackagesMissingFromTheHeaderAreExportedToo(@TempDir Path dir) throws IOException {
        Path javacpp = jar(dir.resolve("javacpp-1.5.14.jar"), "org.bytedeco.javacpp;version=\"1.5.14\",org.bytedeco.javacpp.indexer;version=\"1.5.14\"",
                "org/bytedeco/javacpp/Pointer.class", "org/bytedeco/javacpp/indexer/Indexer.class", "org/bytedeco/javacpp/chrono/Milliseconds.class");
        assertEquals(List.of("org.bytedeco.javacpp;version=\"1.5.14\",org.bytedeco.javacpp.indexer;version=\"1.5.14\"",
                "org.bytedeco.javacpp.chrono;version=\"1.5.14\""), HostExports.exportsOf(javacpp));
    }

    private static Path jar(Path path, String exportHeader, String... entries) throws IOException {
        Manifest mf = new Manifest();
        mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        if (exportHeader != null) {
            mf.getMainAttributes().putValue("Export-Package", exportHeader);
        }
        try (OutputStream out = Files.newOutputStream(path); JarOutputStream jar = new JarOutputStream(out, mf)) {
            for (String e : entries) {
                jar.putNextEntry(new JarEntry(e));
                jar.write(new byte[] {(byte) 0xCA, (byte) 0xFE});
                jar.closeEntry();
            }
        }
        return path;
    }
}
