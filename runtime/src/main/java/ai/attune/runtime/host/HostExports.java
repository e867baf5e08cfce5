package ai.attune.runtime.host;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.TreeSet;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;

/**
 * Builds {@code org.osgi.framework.system.packages.extra}: the packages of host-classpath jars that
 * bundles may import. Jars with an OSGi {@code Export-Package} header (Jackson, the Attune API)
 * export exactly that; jars without one (Vert.x 5) export every package they hold at the version
 * in their file name. The JDK's incubating Vector API is exported too, because bundles cannot
 * reach a non-{@code java.*} JDK module otherwise.
 */
public final class HostExports {
    private static final Pattern VERSIONED_JAR = Pattern.compile(".*?-(\\d+(?:\\.\\d+){0,2})(?:[.-]([A-Za-z0-9_.-]+))?\\.jar");

    private HostExports() {}

    /** The export clause for the given classpath jars; jars matching none of {@code prefixes} are skipped. */
    public static String compute(List<Path> classpath, List<String> prefixes) {
        List<String> clauses = new ArrayList<>();
        for (Path jar : classpath) {
            String file = jar.getFileName().toString();
            if (!file.endsWith(".jar") || !Files.isRegularFile(jar) || prefixes.stream().noneMatch(file::startsWith)) {
                continue;
            }
            clauses.addAll(exportsOf(jar));
        }
        clauses.add("jdk.incubator.vector;version=\"" + Runtime.version().feature() + ".0.0\"");
        return String.join(",", clauses);
    }

    /** The jars of {@code java.class.path}. */
    public static List<Path> classpath() {
        List<Path> out = new ArrayList<>();
        for (String e : System.getProperty("java.class.path", "").split(java.io.File.pathSeparator)) {
            if (!e.isBlank()) {
                out.add(Path.of(e));
            }
        }
        return out;
    }

    static List<String> exportsOf(Path jar) {
        try (JarFile jf = new JarFile(jar.toFile())) {
            Manifest mf = jf.getManifest();
            String header = mf == null ? null : mf.getMainAttributes().getValue("Export-Package");
            String version = osgiVersion(jar.getFileName().toString(), mf);
            TreeSet<String> packages = new TreeSet<>();
            for (Enumeration<? extends ZipEntry> en = jf.entries(); en.hasMoreElements(); ) {
                String name = en.nextElement().getName();
                int slash = name.lastIndexOf('/');
                if (name.endsWith(".class") && slash > 0 && !name.startsWith("META-INF/")) {
                    packages.add(name.substring(0, slash).replace('/', '.'));
                }
            }
            List<String> out = new ArrayList<>();
            String declared = header == null ? "" : header.replaceAll("\\s*\\n\\s*", "");
            if (!declared.isBlank()) {
                out.add(declared);
            }
            for (String p : packages) {
                // A jar's header is what it exports; a package it holds and leaves out (JavaCPP's chrono, which the presets'
                // classes use in their signatures) is exported too, since the host class path serves it anyway.
                if (declared.isBlank() || p.startsWith("org.bytedeco.")
                        && !Pattern.compile("(^|,)" + Pattern.quote(p) + "(;|,|$)").matcher(declared).find()) {
                    out.add(p + ";version=\"" + version + "\"");
                }
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read host jar " + jar + ": " + e.getMessage(), e);
        }
    }

    /** {@code vertx-core-5.0.7.jar} gives {@code 5.0.7}; a qualifier becomes the OSGi fourth part. */
    static String osgiVersion(String fileName, Manifest mf) {
        Matcher m = VERSIONED_JAR.matcher(fileName);
        String v = null;
        String qualifier = null;
        if (m.matches()) {
            v = m.group(1);
            qualifier = m.group(2);
        } else if (mf != null && mf.getMainAttributes().getValue(Attributes.Name.IMPLEMENTATION_VERSION) != null) {
            v = mf.getMainAttributes().getValue(Attributes.Name.IMPLEMENTATION_VERSION).replaceAll("[^0-9.].*", "");
        }
        if (v == null || v.isEmpty()) {
            return "0.0.0";
        }
        String[] parts = v.split("\\.");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 3; i++) {
            sb.append(i > 0 ? "." : "").append(i < parts.length ? parts[i] : "0");
        }
        if (qualifier != null && !qualifier.isEmpty()) {
            sb.append('.').append(qualifier.replaceAll("[^A-Za-z0-9_-]", "_"));
        }
        return sb.toString();
    }
}
