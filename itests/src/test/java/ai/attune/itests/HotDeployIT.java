package ai.attune.itests;

import ai.attune.api.spi.Optimizer;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;

import javax.inject.Inject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Collection;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

/** A bundle dropped into the watched deploy directory becomes a technique; deleting the file removes it. */
@RunWith(PaxExam.class)
public class HotDeployIT {
    private static final long TIMEOUT_MS = 30_000;

    @Inject
    BundleContext context;

    @Configuration
    public Option[] config() throws IOException {
        return Bundles.watching(deployDir());
    }

    static Path deployDir() {
        return Path.of(System.getProperty("attune.itest.dir")).resolve("deploy");
    }

    @Test
    public void droppedBundleAppearsAndDisappears() throws Exception {
        assertEquals("no sgd before the drop", 0, sgdServices().size());

        Path target = deployDir().resolve("attune-optim-sgd.jar");
        Path tmp = deployDir().resolve(".attune-optim-sgd.jar.part");
        Files.copy(Bundles.jar("attune-optim-sgd"), tmp, StandardCopyOption.REPLACE_EXISTING);
        // Dropped atomically, as a user's mv would, so the watcher never sees half a jar.
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        assertTrue("sgd did not appear within " + TIMEOUT_MS + " ms of the drop", waitFor(1));
        ServiceReference<Optimizer> ref = sgdServices().iterator().next();
        assertEquals("ai.attune.optim.sgd", ref.getBundle().getSymbolicName());

        Files.delete(target);
        assertTrue("sgd did not disappear within " + TIMEOUT_MS + " ms of the delete", waitFor(0));
    }

    @SuppressWarnings("rawtypes")
    private Collection<ServiceReference<Optimizer>> sgdServices() throws Exception {
        return context.getServiceReferences(Optimizer.class, "(" + Optimizer.PROPERTY + "=sgd)");
    }

    private boolean waitFor(int count) throws Exception {
        long deadline = System.currentTimeMillis() + TIMEOUT_MS;
        while (System.currentTimeMillis() < deadline) {
            if (sgdServices().size() == count) {
                return true;
            }
            Thread.sleep(50);
        }
        return false;
    }
}
