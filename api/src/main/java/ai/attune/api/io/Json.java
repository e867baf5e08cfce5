package ai.attune.api.io;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/** The JSON settings of the format; ObjectReader and ObjectWriter are immutable and thread-safe. */
final class Json {

    /**
     * Duplicate keys would let two header entries claim one name (serde rejects them too), and
     * trailing tokens would let garbage follow the object; trailing whitespace, the format's
     * padding, stays allowed.
     */
    static final ObjectReader READER = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build()
            .reader();

    /** Compact output, as the reference writer produces. */
    static final ObjectWriter WRITER = JsonMapper.builder().build().writer();

    private Json() {
    }

    /**
     * A parse error as one short line: Jackson's message without its source excerpt, which with
     * source inclusion off only says "REDACTED", and with the position as {@code line L, column C}.
     */
    static String describe(JacksonException e) {
        String message = String.valueOf(e.getOriginalMessage())
                .replaceAll("\\[Source: [^;\\]]*; line: (\\d+), column: (\\d+)\\]", "line $1, column $2");
        JsonLocation at = e.getLocation();
        return at == null ? message : message + " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")";
    }

    /** Decodes UTF-8 strictly: the String constructor would silently replace malformed bytes. */
    static String decodeUtf8(byte[] bytes) throws CharacterCodingException {
        return StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .decode(ByteBuffer.wrap(bytes))
                .toString();
    }
}
