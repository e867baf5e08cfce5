package ai.attune.runtime.host;

import ai.attune.api.spi.Kind;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Filter;
import org.osgi.framework.FrameworkUtil;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.Version;

import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link PluginCatalog} over a fixed set of services, without Felix, so tests run the commands'
 * own code (TrainJob, ModelLoader) against real plugin classes. Lookups go through real OSGi
 * filters, so a technique name that is not a valid filter value behaves as it does in the runtime.
 */
public final class StaticCatalog {
    private StaticCatalog() {}

    /** A catalog holding {@code services}: for each kind, the implementations by name. */
    public static PluginCatalog of(Map<Kind, Map<String, Object>> services) {
        List<ServiceReference<?>> refs = new ArrayList<>();
        Map<ServiceReference<?>, Object> objects = new LinkedHashMap<>();
        services.forEach((kind, byName) -> byName.forEach((name, service) -> {
            ServiceReference<?> ref = reference(kind, name, refs.size());
            refs.add(ref);
            objects.put(ref, service);
        }));
        BundleContext ctx = (BundleContext) Proxy.newProxyInstance(StaticCatalog.class.getClassLoader(), new Class<?>[] {BundleContext.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "getServiceReferences" -> {
                        String clazz = args[0] instanceof Class<?> c ? c.getName() : (String) args[0];
                        Filter filter = FrameworkUtil.createFilter((String) args[1]);
                        List<ServiceReference<?>> hits = new ArrayList<>();
                        for (ServiceReference<?> r : refs) {
                            Kind kind = (Kind) r.getProperty("kind");
                            if (kind.spi().getName().equals(clazz) && filter.matches(Map.of(kind.property(), r.getProperty(kind.property())))) {
                                hits.add(r);
                            }
                        }
                        yield args[0] instanceof Class<?> ? hits : hits.isEmpty() ? null : hits.toArray(new ServiceReference<?>[0]);
                    }
                    case "getService" -> objects.get(args[0]);
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    case "toString" -> "StaticCatalog";
                    default -> throw new UnsupportedOperationException(method.getName());
                });
        return new PluginCatalog(ctx);
    }

    private static ServiceReference<?> reference(Kind kind, String name, int order) {
        Bundle bundle = (Bundle) Proxy.newProxyInstance(StaticCatalog.class.getClassLoader(), new Class<?>[] {Bundle.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "getSymbolicName" -> "ai.attune.test." + name;
                    case "getVersion" -> Version.emptyVersion;
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    default -> "bundle " + name;
                });
        return (ServiceReference<?>) Proxy.newProxyInstance(StaticCatalog.class.getClassLoader(), new Class<?>[] {ServiceReference.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "getProperty" -> switch ((String) args[0]) {
                        case "kind" -> kind;
                        case "order" -> order;
                        default -> args[0].equals(kind.property()) ? name : null;
                    };
                    case "getPropertyKeys" -> new String[] {kind.property()};
                    case "getBundle" -> bundle;
                    // Earlier registrations rank lower, as a lower service id would rank higher in Felix: only order matters here.
                    case "compareTo" -> Integer.compare(order, (Integer) ((ServiceReference<?>) args[0]).getProperty("order"));
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    case "toString" -> kind.label() + " " + name;
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }
}
