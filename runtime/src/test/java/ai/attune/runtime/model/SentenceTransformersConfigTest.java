package ai.attune.runtime.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Prompt resolution as sentence-transformers' {@code encode(prompt=, prompt_name=)} does it. */
class SentenceTransformersConfigTest {
    @TempDir
    Path dir;

    @Test
    void anExplicitPromptWinsThenANameThenTheDefault() throws IOException {
        Files.writeString(dir.resolve(SentenceTransformersConfig.FILE), """
                {"prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": "query"}
                """);
        SentenceTransformersConfig st = SentenceTransformersConfig.read(dir);
        assertEquals("query: ", st.prompt(null, null));
        assertEquals("passage: ", st.prompt("passage", null));
        assertEquals("Title: ", st.prompt("passage", "Title: "));
        assertEquals("", st.prompt(null, ""), "an empty prompt turns the default off");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> st.prompt("document", null));
        assertEquals("prompt name 'document' is not in " + dir.resolve(SentenceTransformersConfig.FILE) + "; its prompts: query, passage", e.getMessage());
    }

    @Test
    void noFileOrNoDefaultMeansNoPrefix() throws IOException {
        assertEquals("", SentenceTransformersConfig.read(dir).prompt(null, null));
        assertEquals(Map.of(), SentenceTransformersConfig.read(dir).prompts());
        Files.writeString(dir.resolve(SentenceTransformersConfig.FILE), """
                {"__version__": {"sentence_transformers": "3.0.1"}, "prompts": {"query": "q: "}, "default_prompt_name": null}
                """);
        assertEquals("", SentenceTransformersConfig.read(dir).prompt(null, null));
        assertEquals("q: ", SentenceTransformersConfig.read(dir).prompt("query", null));
    }

    @Test
    void aDefaultThatIsNotAPromptIsRefusedWithTheFile() throws IOException {
        Path file = dir.resolve(SentenceTransformersConfig.FILE);
        Files.writeString(file, """
                {"prompts": {"query": "query: "}, "default_prompt_name": "passage"}
                """);
        IOException e = assertThrows(IOException.class, () -> SentenceTransformersConfig.read(dir));
        assertEquals(file + ": default_prompt_name 'passage' is not among its prompts [query]", e.getMessage());
    }
}
