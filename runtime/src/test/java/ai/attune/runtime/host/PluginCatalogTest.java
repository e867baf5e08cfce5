package ai.attune.runtime.host;

import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.Kind;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.spi.OptimizerState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Techniques read from a real OSGi service registry, including one registered under several names. */
class PluginCatalogTest {
    /** An optimizer that does nothing: only its registration matters here. */
    private record Named(String what) implements Optimizer<Object> {
        @Override
        public Class<Object> configType() {
            return Object.class;
        }

        @Override
        public Object defaultConfig() {
            return new Object();
        }

        @Override
        public void step(List<Parameter> params, OptimizerState state, Object config, double lr) {}
    }

    @Test
    void aTechniqueWithAliasesIsListedAndFoundUnderEachName(@TempDir Path dir) throws Exception {
        Named eightBit = new Named("8-bit");
        Named sgd = new Named("sgd");
        try (TestCatalog t = TestCatalog.start(dir.resolve("felix"))) {
            t.register(Kind.OPTIMIZER, eightBit, "adamw_8bit", "paged_adamw_8bit").register(Kind.OPTIMIZER, "sgd", sgd);
            PluginCatalog catalog = t.catalog();
            List<PluginCatalog.Entry> entries = catalog.list(Kind.OPTIMIZER);
            assertEquals(List.of("adamw_8bit", "paged_adamw_8bit", "sgd"), entries.stream().map(PluginCatalog.Entry::name).toList());
            assertSame(entries.get(0).reference(), entries.get(1).reference(), "one service, two names");
            assertSame(eightBit, catalog.find(Kind.OPTIMIZER, "adamw_8bit", Optimizer.class).orElseThrow());
            assertSame(eightBit, catalog.find(Kind.OPTIMIZER, "paged_adamw_8bit", Optimizer.class).orElseThrow());
            assertSame(sgd, catalog.find(Kind.OPTIMIZER, "sgd", Optimizer.class).orElseThrow());
            assertTrue(catalog.find(Kind.OPTIMIZER, "adamw", Optimizer.class).isEmpty());
        }
    }

    @Test
    void namesOfAPropertyOfEachShape() {
        assertEquals(List.of("adamw"), PluginCatalog.names("adamw"));
        assertEquals(List.of("adamw", "paged_adamw_32bit"), PluginCatalog.names(new String[] {"adamw", "paged_adamw_32bit"}));
        assertEquals(List.of("a", "b"), PluginCatalog.names(List.of("a", "b")));
        assertEquals(List.of(), PluginCatalog.names(null));
    }
}
