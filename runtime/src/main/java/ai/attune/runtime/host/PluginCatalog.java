package ai.attune.runtime.host;

import ai.attune.api.spi.Kind;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;

import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/** The techniques currently registered, read from the service registry (the whiteboard). */
public final class PluginCatalog {
    /** One registered technique. */
    public record Entry(Kind kind, String name, String bundle, String version, ServiceReference<?> reference) {}

    private final BundleContext ctx;

    PluginCatalog(BundleContext ctx) {
        this.ctx = ctx;
    }

    public List<Entry> list() {
        List<Entry> out = new ArrayList<>();
        for (Kind kind : Kind.values()) {
            out.addAll(list(kind));
        }
        return out;
    }

    public List<Entry> list(Kind kind) {
        List<Entry> out = new ArrayList<>();
        try {
            ServiceReference<?>[] refs = ctx.getServiceReferences(kind.spi().getName(), "(" + kind.property() + "=*)");
            if (refs != null) {
                for (ServiceReference<?> r : refs) {
                    for (String name : names(r.getProperty(kind.property()))) {
                        out.add(new Entry(kind, name, r.getBundle().getSymbolicName(), r.getBundle().getVersion().toString(), r));
                    }
                }
            }
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        }
        out.sort(Comparator.comparing(Entry::name));
        return out;
    }

    /**
     * The names a technique is registered under: one string, or several for a technique known by
     * aliases, which Declarative Services registers as a string array when a component repeats
     * the property. A filter on the name matches any of them, so {@link #find} needs nothing more.
     */
    public static List<String> names(Object property) {
        if (property == null) {
            return List.of();
        }
        if (property instanceof Collection<?> c) {
            return c.stream().map(String::valueOf).toList();
        }
        if (property.getClass().isArray()) {
            List<String> out = new ArrayList<>();
            for (int i = 0; i < Array.getLength(property); i++) {
                out.add(String.valueOf(Array.get(property, i)));
            }
            return out;
        }
        return List.of(String.valueOf(property));
    }

    /** The service behind a listed entry. */
    public Object service(ServiceReference<?> ref) {
        return ctx.getService(ref);
    }

    /** The highest-ranked service of a kind with the given name. */
    public <T> Optional<T> find(Kind kind, String name, Class<T> type) {
        try {
            var refs = ctx.getServiceReferences(type, "(" + kind.property() + "=" + filterValue(name) + ")");
            return refs.stream().sorted(Comparator.reverseOrder()).findFirst().map(ctx::getService);
        } catch (InvalidSyntaxException e) {
            throw new IllegalArgumentException("bad technique name '" + name + "'", e);
        }
    }

    /**
     * The name as an LDAP filter value. Names come from recipes: unescaped, {@code method: "*"}
     * matched whatever was installed and {@code "a)(b"} was a filter syntax error.
     */
    static String filterValue(String name) {
        StringBuilder b = new StringBuilder(name.length());
        for (char c : name.toCharArray()) {
            if (c == '\\' || c == '*' || c == '(' || c == ')') {
                b.append('\\');
            }
            b.append(c);
        }
        return b.toString();
    }
}
