package ai.attune.runtime.text;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Real vocabularies from ../shared: known encodings and the stories260K golden text. */
class TokenizerTest {
    static final Path SHARED = Path.of("../../shared");

    @Test
    void llama2EncodesWithBosAsItsConfigSays() throws Exception {
        Path dir = SHARED.resolve("tokenizers/llama2");
        // The oracle is the vocabulary itself: sentencepiece marks word starts with U+2581 and
        // tokenizer_config's add_bos_token puts <s> (1) first.
        var vocab = new com.fasterxml.jackson.databind.ObjectMapper().readTree(dir.resolve("tokenizer.json").toFile()).path("model").path("vocab");
        long hello = vocab.path("\u2581Hello").asLong(-1);
        long world = vocab.path("\u2581world").asLong(-1);
        try (Tokenizer t = Tokenizer.load(dir)) {
            assertArrayEquals(new long[] {1, hello, world}, t.encode("Hello world"));
            assertEquals("Hello world", t.decode(new long[] {1, hello, world}));
            assertEquals(32000, t.vocabSize());
            assertEquals(2L, t.eosId().orElseThrow());
        }
    }

    @Test
    void gpt2FromItsOriginalVocabularyAndMerges() throws Exception {
        // GPT-2's published ids: "Hello" 15496, " world" 995, "<|endoftext|>" 50256; no BOS is added.
        try (Tokenizer t = Tokenizer.load(SHARED.resolve("tokenizers/gpt2"))) {
            assertArrayEquals(new long[] {15496, 995}, t.encode("Hello world"));
            assertEquals(" Hello world, it's me.", t.decode(t.encode(" Hello world, it's me.")));
            assertEquals(50257, t.vocabSize());
        }
    }

    @Test
    void stories260KDecodesTheKnownStory() throws Exception {
        long[] ids = {403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337,
                410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426,
                338, 391, 266, 267, 337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415};
        try (Tokenizer t = Tokenizer.load(SHARED.resolve("models/stories260K"))) {
            String text = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
                    + "One day, she saw a big, red ball. She wanted to play with it, but it was too high";
            assertEquals(text, t.decode(ids));
            long[] encoded = t.encode(text);
            assertEquals(1L, encoded[0], "BOS first (add_bos_token)");
            assertEquals(text, t.decode(encoded));
            assertEquals(512, t.vocabSize());
        }
    }
}
