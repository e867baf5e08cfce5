package ai.attune.itests;

import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.spi.OptimizerState;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensors;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.osgi.framework.BundleContext;
import org.osgi.framework.FrameworkUtil;
import org.osgi.framework.ServiceReference;
import org.osgi.util.tracker.ServiceTracker;

import javax.inject.Inject;
import java.util.List;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.ops4j.pax.exam.CoreOptions.options;

/** The runtime boots, and the sample technique appears in the registry under its service property and works. */
@RunWith(PaxExam.class)
public class RuntimeBootIT {
    @Inject
    BundleContext context;

    @Configuration
    public Option[] config() {
        return options(Bundles.runtimeBase(), Bundles.bundleOf("attune-optim-sgd"));
    }

    @Test
    @SuppressWarnings({"rawtypes", "unchecked"})
    public void sgdIsRegisteredUnderItsNameAndSteps() throws Exception {
        ServiceTracker<Optimizer, Optimizer> optimizers = new ServiceTracker<>(context,
                context.createFilter("(&(objectClass=" + Optimizer.class.getName() + ")(" + Optimizer.PROPERTY + "=sgd))"), null);
        ServiceTracker<Backend, Backend> backends = new ServiceTracker<>(context,
                context.createFilter("(&(objectClass=" + Backend.class.getName() + ")(" + Backend.PROPERTY + "=jvm))"), null);
        optimizers.open();
        backends.open();
        try {
            Optimizer sgd = optimizers.waitForService(20_000);
            Backend jvm = backends.waitForService(20_000);
            assertNotNull("no optimizer registered with attune.optimizer=sgd", sgd);
            assertNotNull("no backend registered with attune.backend=jvm", jvm);
            ServiceReference<Optimizer> ref = optimizers.getServiceReference();
            assertEquals("ai.attune.optim.sgd", ref.getBundle().getSymbolicName());
            assertEquals("sgd", ref.getProperty(Optimizer.PROPERTY));

            // One real step through the registry: p = 1 - 0.1 * 0.5.
            try (Scope job = Scope.open("job")) {
                Parameter p = new Parameter("w", Tensors.of(jvm, new float[] {1f}, 1), true);
                p.value().setGrad(Tensors.of(jvm, new float[] {0.5f}, 1));
                sgd.step(List.of(p), new OptimizerState(job), sgd.defaultConfig(), 0.1);
                assertEquals(0.95, Tensors.item(p.value()), 1e-6);
            }
            assertEquals("the test runs inside the framework", context.getBundle(0),
                    FrameworkUtil.getBundle(getClass()).getBundleContext().getBundle(0));
        } finally {
            optimizers.close();
            backends.close();
        }
    }
}
