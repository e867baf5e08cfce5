package ai.attune.kernels.torch;

import org.bytedeco.javacpp.Loader;

import java.io.IOException;
import java.io.InputStream;
import java.net.JarURLConnection;
import java.net.URL;
import java.net.URLConnection;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

/**
 * Puts every native library of the bytedeco jars into JavaCPP's cache, whole, before libtorch is
 * loaded.
 *
 * <p>Why: JavaCPP's pytorch preset loads {@code libtorch.so} before it extracts
 * {@code libtorch_cpu.so}. On an empty cache the dynamic linker then resolves libtorch.so's
 * {@code DT_NEEDED libtorch_cpu.so} past {@code $ORIGIN}, through the system's search path. Where a
 * system libtorch is installed (Debian's {@code python3-torch} puts {@code libtorch_cpu.so} 1.13 in
 * {@code /usr/lib}), that one is mapped next to the bundled {@code libc10.so} 2.13, and the bundled
 * libtorch_cpu's static initialisers crash the JVM in {@code c10::Dispatcher::registerFallback}. With
 * the whole directory in place first, {@code $ORIGIN} always wins.
 *
 * <p>JavaCPP itself writes a library in place under its final name; this class writes each one to
 * a temporary name and renames it, so a process killed midway, or another process loading at the
 * same moment, never sees a half-written library. Writers serialise on the cache's {@code .lock}
 * (the file JavaCPP locks) and on the {@code Runtime} monitor (the one JavaCPP holds around that
 * lock in-process). A library counts as in place when its size and modification time equal its jar
 * entry's, JavaCPP's own test, so JavaCPP then extracts nothing.
 */
final class NativeCache {
    /** A marker library of each jar whose native directory is put in place, by preset package. */
    private static final List<String> MARKERS = List.of(
            "org/bytedeco/javacpp/%s/libjnijavacpp.so",
            "org/bytedeco/openblas/%s/libjniopenblas.so",
            "org/bytedeco/pytorch/%s/libjnitorch.so");
    /**
     * Libraries a preset loads under a second name, which JavaCPP would otherwise extract in place
     * as a copy: the openblas preset loads {@code libopenblas.so.0} as {@code libopenblas_nolapack.so.0}.
     */
    private static final Map<String, String> ALIASES = Map.of("libopenblas.so.0", "libopenblas_nolapack.so.0");
    private static final String PART = ".part-";

    private NativeCache() {}

    /** The cache directory JavaCPP will use: the launcher's {@code org.bytedeco.javacpp.cachedir}, else its default. */
    static Path directory() {
        String configured = System.getProperty("org.bytedeco.javacpp.cachedir");
        return configured != null ? Path.of(configured) : Path.of(System.getProperty("user.home"), ".javacpp", "cache");
    }

    /**
     * Makes sure every native library of the jars is in place under {@link #directory()}.
     *
     * @return how many files were written (0 when the cache was complete)
     * @throws IOException when the cache cannot be created or written; the message names the path and the reason
     */
    static int prepare() throws IOException {
        Path cache = directory().toAbsolutePath().normalize();
        try {
            Files.createDirectories(cache);
        } catch (FileSystemException e) {
            throw new IOException("cannot create the natives cache " + cache + ": " + reason(e), e);
        }
        List<Library> missing = new ArrayList<>();
        List<JarFile> jars = new ArrayList<>();
        try {
            for (String marker : MARKERS) {
                URL url = Loader.class.getClassLoader().getResource(marker.formatted(Loader.getPlatform()));
                if (url == null) {
                    continue; // this platform's natives are not on the classpath: JavaCPP reports it when loading
                }
                URLConnection c = url.openConnection();
                if (!(c instanceof JarURLConnection jc)) {
                    continue; // an exploded directory: JavaCPP links to it, nothing to extract
                }
                jc.setUseCaches(false); // our own JarFile, closed below, not JavaCPP's shared one
                JarFile jar = jc.getJarFile();
                jars.add(jar);
                String dir = jc.getEntryName().substring(0, jc.getEntryName().lastIndexOf('/') + 1);
                // JavaCPP's layout: <cache>/<jar file name>/<entry directory>/<library>
                Path target = cache.resolve(Path.of(jar.getName()).getFileName().toString()).resolve(dir);
                for (Enumeration<JarEntry> en = jar.entries(); en.hasMoreElements(); ) {
                    JarEntry e = en.nextElement();
                    String name = e.getName();
                    if (!e.isDirectory() && name.startsWith(dir) && name.indexOf('/', dir.length()) < 0 && isLibrary(name)) {
                        String file = name.substring(dir.length());
                        for (String as : Stream.of(file, ALIASES.get(file)).filter(f -> f != null).toList()) {
                            Library lib = new Library(jar, e, target.resolve(as));
                            if (!lib.inPlace()) {
                                missing.add(lib);
                            }
                        }
                    }
                }
            }
            if (missing.isEmpty()) {
                return 0;
            }
            return extract(cache, missing);
        } finally {
            for (JarFile jar : jars) {
                jar.close();
            }
        }
    }

    private static boolean isLibrary(String name) {
        return name.contains(".so") || name.endsWith(".dylib") || name.endsWith(".dll");
    }

    private static int extract(Path cache, List<Library> missing) throws IOException {
        synchronized (Runtime.getRuntime()) {
            try (FileChannel lockFile = FileChannel.open(cache.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock lock = lockFile.lock()) {
                for (Path dir : missing.stream().map(l -> l.file().getParent()).distinct().toList()) {
                    removeParts(dir);
                }
                int written = 0;
                for (Library lib : missing) {
                    if (!lib.inPlace()) { // another process may have put it there while we waited for the lock
                        lib.write();
                        written++;
                    }
                }
                return written;
            } catch (FileSystemException e) {
                throw new IOException("cannot write the natives cache " + cache + ": " + reason(e), e);
            }
        }
    }

    /** Temporary files of writers that were killed: no live writer has one, since writers hold the lock. */
    private static void removeParts(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (var files = Files.list(dir)) {
            for (Path f : files.filter(f -> f.getFileName().toString().startsWith(".") && f.getFileName().toString().contains(PART)).toList()) {
                Files.deleteIfExists(f);
            }
        }
    }

    private static String reason(FileSystemException e) {
        if (e instanceof AccessDeniedException) {
            return "permission denied on " + e.getFile();
        }
        if (e instanceof NoSuchFileException) {
            return "no such file or directory " + e.getFile();
        }
        return e.getReason() != null ? e.getReason() + " (" + e.getFile() + ")" : e.toString();
    }

    /** One library of a jar and where JavaCPP expects it. */
    private record Library(JarFile jar, JarEntry entry, Path file) {
        /**
         * In place: the extracted file with the entry's size and time, or a link JavaCPP made to the
         * same library extracted from another jar.
         */
        boolean inPlace() throws IOException {
            if (Files.isSymbolicLink(file)) {
                return Files.isRegularFile(file);
            }
            return Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)
                    && Files.size(file) == entry.getSize()
                    && Files.getLastModifiedTime(file).toMillis() == entry.getTime();
        }

        void write() throws IOException {
            Files.createDirectories(file.getParent());
            Path part = file.resolveSibling("." + file.getFileName() + PART + ProcessHandle.current().pid());
            try (InputStream in = jar.getInputStream(entry)) {
                Files.copy(in, part, StandardCopyOption.REPLACE_EXISTING);
                Files.setLastModifiedTime(part, FileTime.fromMillis(entry.getTime()));
                // A rename replaces the name in one step: a loader sees the old file or the whole new one.
                Files.move(part, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } finally {
                Files.deleteIfExists(part);
            }
        }
    }
}
