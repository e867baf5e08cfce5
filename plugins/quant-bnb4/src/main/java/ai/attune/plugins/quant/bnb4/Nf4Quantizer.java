package ai.attune.plugins.quant.bnb4;

import ai.attune.api.spi.Quantizer;
import org.osgi.service.component.annotations.Component;

/** 4-bit NormalFloat, QLoRA's data type for normally distributed weights. */
@Component(service = Quantizer.class, property = Quantizer.PROPERTY + "=nf4")
public final class Nf4Quantizer extends Bnb4Quantizer {
    public Nf4Quantizer() {
        super(QuantType.NF4);
    }
}
