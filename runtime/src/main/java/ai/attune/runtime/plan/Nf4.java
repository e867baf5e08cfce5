package ai.attune.runtime.plan;

/**
 * A 4-bit NormalFloat base weight as QLoRA stores it (Dettmers et al. 2023, "QLoRA: Efficient
 * Finetuning of Quantized LLMs"): two codes per byte, one absmax per block of 64 quantized again to
 * 8 bits with an f32 scale per 256 of them (double quantization), 4.127 bits per parameter.
 */
final class Nf4 {
    static final int BLOCK = 64;
    static final int SCALE_BLOCK = 256;

    private Nf4() {}

    /** Pool bytes of a tensor of {@code elements}: packed codes, 8-bit block scales, f32 scales of those. */
    static long bytes(long elements) {
        long blocks = (elements + BLOCK - 1) / BLOCK;
        return Kept.granule((elements + 1) / 2) + Kept.granule(blocks) + Kept.granule(4 * ((blocks + SCALE_BLOCK - 1) / SCALE_BLOCK));
    }
}
