package ai.attune.runtime.host;

import java.nio.file.Path;

/**
 * The directories of an installation: {@code plugins/} (bundles started at boot), {@code deploy/}
 * (watched for hot-deployed bundles) and {@code conf/}. The launcher passes the home as
 * {@code -Dattune.home}.
 */
public record RuntimeLayout(Path home, Path plugins, Path deploy, Path conf) {
    public static RuntimeLayout of(Path home) {
        Path h = home.toAbsolutePath().normalize();
        return new RuntimeLayout(h, h.resolve("plugins"), h.resolve("deploy"), h.resolve("conf"));
    }

    /** The installation the launcher started, or the working directory. */
    public static RuntimeLayout fromSystem() {
        String home = System.getProperty("attune.home");
        return of(Path.of(home == null ? "." : home));
    }
}
