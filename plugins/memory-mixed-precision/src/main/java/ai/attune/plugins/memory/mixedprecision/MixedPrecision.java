package ai.attune.plugins.memory.mixedprecision;

import ai.attune.api.autograd.Autocast;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.MemoryStrategy;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;
import org.osgi.service.component.annotations.Component;

import java.util.List;
import java.util.Map;

/**
 * Mixed precision training, as {@code torch.autocast} with {@code GradScaler}: master weights,
 * gradients and optimizer state stay f32; inside each micro-batch's forward and backward the
 * matrix products and attention run in bf16 (or f16) while norms, softmax statistics and the loss
 * stay f32 ({@link Autocast}). With f16 the loss is scaled dynamically.
 */
@Component(service = MemoryStrategy.class, property = MemoryStrategy.PROPERTY + "=mixed_precision")
public final class MixedPrecision implements MemoryStrategy<MixedPrecisionConfig> {
    @Override
    public Class<MixedPrecisionConfig> configType() {
        return MixedPrecisionConfig.class;
    }

    @Override
    public MixedPrecisionConfig defaultConfig() {
        return MixedPrecisionConfig.DEFAULTS;
    }

    @Override
    public Session apply(Module model, MixedPrecisionConfig config) {
        DType low = config.dtype().equals("fp16") ? DType.F16 : DType.BF16;
        GradScaler scaler = low == DType.F16 ? new GradScaler(config) : null;
        return new Session() {
            @Override
            public Region forward() {
                Autocast.Region r = Autocast.enable(low);
                return r::close;
            }

            @Override
            public Tensor scaleLoss(Tensor loss) {
                return scaler == null ? loss : scaler.scaleLoss(loss);
            }

            @Override
            public boolean unscale(List<Parameter> params) {
                return scaler == null || scaler.unscale(params);
            }

            @Override
            public void update(boolean stepped) {
                if (scaler != null) {
                    scaler.update(stepped);
                }
            }

            @Override
            public Map<String, Double> state() {
                return scaler == null ? Map.of() : scaler.state();
            }

            @Override
            public void restore(Map<String, Double> state) {
                if (scaler != null) {
                    scaler.restore(state);
                }
            }
        };
    }
}
