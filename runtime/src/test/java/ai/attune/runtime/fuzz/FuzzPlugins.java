package ai.attune.runtime.fuzz;

import ai.attune.api.spi.Kind;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.lora.LoraMethod;
import ai.attune.plugins.method.full.FullFineTuning;
import ai.attune.plugins.model.bert.BertFamily;
import ai.attune.plugins.model.gpt2.Gpt2Family;
import ai.attune.plugins.model.llama.LlamaFamily;
import ai.attune.plugins.optim.adamw.AdamWOptimizer;
import ai.attune.plugins.setfit.SetFitMethod;
import ai.attune.runtime.data.ShippedFormats;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.host.StaticCatalog;

import java.util.Map;

/** The plugins the fuzz tests parse against: what a distribution installs, minus the native backend. */
public final class FuzzPlugins {
    private FuzzPlugins() {}

    public static PluginCatalog catalog() {
        return StaticCatalog.of(Map.of(
                Kind.METHOD, Map.of("lora", new LoraMethod(), "full", new FullFineTuning()),
                Kind.CLASSIFIER, Map.of("setfit", new SetFitMethod()),
                Kind.OPTIMIZER, Map.of("adamw", new AdamWOptimizer()),
                Kind.MODEL, Map.of("llama", new LlamaFamily(), "gpt2", new Gpt2Family(), "bert", new BertFamily()),
                Kind.DATA_FORMAT, ShippedFormats.byName(),
                Kind.BACKEND, Map.of("jvm", new JvmBackend())));
    }
}
