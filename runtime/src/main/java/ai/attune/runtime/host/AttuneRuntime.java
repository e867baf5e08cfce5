package ai.attune.runtime.host;

import io.vertx.core.Vertx;
import org.apache.felix.framework.FrameworkFactory;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceRegistration;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.wiring.BundleRevision;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The embedded OSGi runtime every command and the lab server boot: Felix with the bundles of
 * {@code plugins/}, FileInstall watching {@code deploy/}, and the host's Vert.x instance
 * registered as a service. Techniques are reached only through the service registry.
 */
public final class AttuneRuntime implements AutoCloseable {
    /** Host-classpath jars whose packages bundles may import. */
    static final List<String> EXPORTED_JAR_PREFIXES = List.of(
            "attune-api-", "vertx-", "netty-", "jackson-", "javacpp-", "pytorch-", "openblas-");

    private final Framework framework;
    private final Vertx vertx;
    private final Path cache;
    private final ServiceRegistration<Vertx> vertxRegistration;

    private AttuneRuntime(Framework framework, Vertx vertx, Path cache, ServiceRegistration<Vertx> reg) {
        this.framework = framework;
        this.vertx = vertx;
        this.cache = cache;
        this.vertxRegistration = reg;
    }

    /** Boots the runtime of an installation. */
    public static AttuneRuntime boot(RuntimeLayout layout) {
        return boot(layout, Map.of());
    }

    /** Boots with extra framework properties (e.g. a faster FileInstall poll in tests). */
    public static AttuneRuntime boot(RuntimeLayout layout, Map<String, String> extra) {
        return boot(layout, extra, Vertx::vertx);
    }

    /** Boots with a Vert.x instance of the caller's making, e.g. one with metrics enabled for the lab server. */
    public static AttuneRuntime boot(RuntimeLayout layout, Map<String, String> extra, java.util.function.Supplier<Vertx> vertxFactory) {
        List<Path> jars = bundleJars(layout.plugins());
        Path cache;
        try {
            // One cache per process: CLI commands and a lab server may run side by side.
            cache = Files.createTempDirectory("attune-felix-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the OSGi cache directory: " + e.getMessage(), e);
        }
        Map<String, String> props = new HashMap<>();
        props.put(Constants.FRAMEWORK_STORAGE, cache.toString());
        props.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
        props.put(Constants.FRAMEWORK_SYSTEMPACKAGES_EXTRA, HostExports.compute(HostExports.classpath(), EXPORTED_JAR_PREFIXES));
        props.put("felix.log.level", "1");
        props.put("felix.fileinstall.dir", layout.deploy().toString());
        props.put("felix.fileinstall.poll", "1000");
        props.put("felix.fileinstall.noInitialDelay", "true");
        props.put("felix.fileinstall.log.level", "1");
        props.put("felix.fileinstall.bundles.new.start", "true");
        props.put("felix.fileinstall.bundles.startTransient", "true");
        props.putAll(extra);

        Framework fw = new FrameworkFactory().newFramework(props);
        Vertx vertx = null;
        try {
            fw.init();
            BundleContext ctx = fw.getBundleContext();
            vertx = vertxFactory.get();
            ServiceRegistration<Vertx> reg = ctx.registerService(Vertx.class, vertx, null);
            List<Bundle> installed = new ArrayList<>();
            for (Path jar : jars) {
                installed.add(ctx.installBundle(jar.toUri().toString()));
            }
            fw.start();
            for (Bundle b : installed) {
                if ((b.adapt(BundleRevision.class).getTypes() & BundleRevision.TYPE_FRAGMENT) == 0) {
                    b.start();
                }
            }
            return new AttuneRuntime(fw, vertx, cache, reg);
        } catch (BundleException | RuntimeException e) {
            stopQuietly(fw);
            if (vertx != null) {
                vertx.close();
            }
            ai.attune.api.io.AtomicDirectory.deleteTree(cache);
            throw new RuntimeBootException("the runtime did not start: " + e.getMessage(), e);
        }
    }

    private static List<Path> bundleJars(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new RuntimeBootException("plugin directory " + dir + " does not exist; set -Dattune.home to an Attune installation", null);
        }
        List<Path> jars = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.jar")) {
            ds.forEach(jars::add);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        jars.sort(Comparator.comparing(Path::toString));
        return jars;
    }

    public BundleContext context() {
        return framework.getBundleContext();
    }

    public Vertx vertx() {
        return vertx;
    }

    public PluginCatalog plugins() {
        return new PluginCatalog(context());
    }

    @Override
    public void close() {
        vertxRegistration.unregister();
        stopQuietly(framework);
        vertx.close().await();
        ai.attune.api.io.AtomicDirectory.deleteTree(cache);
    }

    private static void stopQuietly(Framework fw) {
        try {
            fw.stop();
            fw.waitForStop(10_000);
        } catch (BundleException | InterruptedException e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
