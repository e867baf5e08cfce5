package ai.attune.runtime.host;

import ai.attune.api.spi.Kind;
import org.apache.felix.framework.FrameworkFactory;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;
import org.osgi.framework.launch.Framework;

import java.nio.file.Path;
import java.util.Hashtable;
import java.util.Map;

/**
 * A plugin catalog over a bare OSGi framework, its techniques registered by the test from its own
 * classpath: the registry lookups of the real runtime without building and installing bundles.
 */
public final class TestCatalog implements AutoCloseable {
    private final Framework framework;

    private TestCatalog(Framework framework) {
        this.framework = framework;
    }

    /** A started framework whose storage is {@code cache}. */
    public static TestCatalog start(Path cache) throws BundleException {
        Framework fw = new FrameworkFactory().newFramework(Map.of(Constants.FRAMEWORK_STORAGE, cache.toString(),
                Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT, "felix.log.level", "1"));
        fw.start();
        return new TestCatalog(fw);
    }

    /** Registers {@code service} as the technique {@code name} of {@code kind}, as its bundle's component would. */
    public TestCatalog register(Kind kind, String name, Object service) {
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(kind.property(), name);
        framework.getBundleContext().registerService(kind.spi().getName(), service, props);
        return this;
    }

    /** Registers {@code service} under several names, as a component that repeats its name property is registered (a string array). */
    public TestCatalog register(Kind kind, Object service, String... names) {
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(kind.property(), names);
        framework.getBundleContext().registerService(kind.spi().getName(), service, props);
        return this;
    }

    public PluginCatalog catalog() {
        return new PluginCatalog(framework.getBundleContext());
    }

    @Override
    public void close() throws Exception {
        framework.stop();
        framework.waitForStop(10_000);
    }
}
