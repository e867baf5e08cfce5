package ai.attune.itests;

import org.ops4j.pax.exam.Option;

import java.nio.file.Path;

import static org.ops4j.pax.exam.CoreOptions.bundle;
import static org.ops4j.pax.exam.CoreOptions.composite;
import static org.ops4j.pax.exam.CoreOptions.junitBundles;
import static org.ops4j.pax.exam.CoreOptions.systemPackages;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;

/** The bundles the build copied to target/bundles, as Pax Exam options. */
final class Bundles {
    private Bundles() {}

    static Path dir() {
        return Path.of(System.getProperty("attune.bundles.dir"));
    }

    static Path jar(String artifactId) {
        return dir().resolve(artifactId + ".jar");
    }

    static Option bundleOf(String artifactId) {
        return bundle(jar(artifactId).toUri().toString());
    }

    /** The runtime's boot set without any technique plugin: DS, the API and its Jackson imports, the jvm backend. */
    static Option runtimeBase() {
        return composite(
                systemPackages("jdk.incubator.vector"),
                systemProperty("org.ops4j.pax.logging.DefaultServiceLog.level").value("WARN"),
                bundleOf("org.osgi.util.function"),
                bundleOf("org.osgi.util.promise"),
                bundleOf("org.osgi.service.component"),
                bundleOf("org.apache.felix.scr"),
                bundleOf("jackson-annotations"),
                bundleOf("jackson-core"),
                bundleOf("jackson-databind"),
                bundleOf("attune-api"),
                bundleOf("attune-kernels-jvm"),
                junitBundles());
    }

    /**
     * The runtime's boot set with FileInstall watching {@code deploy}, emptied first, polling every
     * 200 ms: the options of a test that drops bundles in and takes them out.
     */
    static Option[] watching(java.nio.file.Path deploy) throws java.io.IOException {
        java.nio.file.Files.createDirectories(deploy);
        try (var files = java.nio.file.Files.list(deploy)) {
            for (java.nio.file.Path f : (Iterable<java.nio.file.Path>) files::iterator) {
                java.nio.file.Files.delete(f);
            }
        }
        return org.ops4j.pax.exam.CoreOptions.options(
                runtimeBase(),
                org.ops4j.pax.exam.CoreOptions.frameworkProperty("felix.fileinstall.dir").value(deploy.toString()),
                org.ops4j.pax.exam.CoreOptions.frameworkProperty("felix.fileinstall.poll").value("200"),
                org.ops4j.pax.exam.CoreOptions.frameworkProperty("felix.fileinstall.noInitialDelay").value("true"),
                org.ops4j.pax.exam.CoreOptions.frameworkProperty("felix.fileinstall.log.level").value("1"),
                bundleOf("org.apache.felix.fileinstall"));
    }
}
