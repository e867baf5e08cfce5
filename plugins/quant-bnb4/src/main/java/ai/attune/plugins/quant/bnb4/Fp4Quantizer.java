package ai.attune.plugins.quant.bnb4;

import ai.attune.api.spi.Quantizer;
import org.osgi.service.component.annotations.Component;

/** bitsandbytes' 4-bit float (one sign, two exponent and one mantissa bit). */
@Component(service = Quantizer.class, property = Quantizer.PROPERTY + "=fp4")
public final class Fp4Quantizer extends Bnb4Quantizer {
    public Fp4Quantizer() {
        super(QuantType.FP4);
    }
}
