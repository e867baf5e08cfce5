package ai.attune.api.text;

/** One chat turn, as in OpenAI's and TRL's {@code messages}: {@code system}, {@code user} or {@code assistant}. */
public record ChatMessage(String role, String content) {}
