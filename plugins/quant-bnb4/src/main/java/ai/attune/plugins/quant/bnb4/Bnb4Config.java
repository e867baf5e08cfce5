package ai.attune.plugins.quant.bnb4;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.Arrays;

/**
 * How a weight is quantized, with transformers' {@code BitsAndBytesConfig} key names. The quant
 * type is the quantizer's own name ({@code nf4}, {@code fp4}).
 *
 * @param blocksize  elements per absmax, {@code bnb_4bit_blocksize}; bitsandbytes' default is 64
 * @param doubleQuant quantize the absmax values too ({@code bnb_4bit_use_double_quant})
 */
public record Bnb4Config(
        @JsonProperty("bnb_4bit_blocksize") int blocksize,
        @JsonProperty("bnb_4bit_use_double_quant") boolean doubleQuant) {

    public static final Bnb4Config DEFAULTS = new Bnb4Config(64, false);

    public Bnb4Config {
        if (Arrays.stream(Blockwise.BLOCKSIZES_4BIT).noneMatch(b -> b == blocksize)) {
            throw new IllegalArgumentException("bnb_4bit_blocksize must be one of " + Arrays.toString(Blockwise.BLOCKSIZES_4BIT)
                    + ", as bitsandbytes accepts, not " + blocksize);
        }
    }

    /** A key left out keeps bitsandbytes' default. */
    @JsonCreator
    static Bnb4Config fromJson(@JsonProperty("bnb_4bit_blocksize") Integer blocksize,
                               @JsonProperty("bnb_4bit_use_double_quant") Boolean doubleQuant) {
        return new Bnb4Config(blocksize == null ? DEFAULTS.blocksize : blocksize, doubleQuant == null ? DEFAULTS.doubleQuant : doubleQuant);
    }
}
