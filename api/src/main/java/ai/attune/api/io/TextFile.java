package ai.attune.api.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads a config or recipe file as UTF-8, strictly. {@code Files.readString} refuses malformed
 * bytes too, but its error says only "Input length = 1"; this one says on which line they are, so
 * a loader can name {@code file:line}.
 */
public final class TextFile {
    /** Malformed UTF-8 on a (1-based) line. */
    public static final class NotUtf8Exception extends CharacterCodingException {
        private final int line;

        NotUtf8Exception(int line) {
            this.line = line;
        }

        public int line() {
            return line;
        }

        @Override
        public String getMessage() {
            return "not UTF-8 text (line " + line + ")";
        }
    }

    private TextFile() {}

    public static String read(Path file) throws IOException {
        return decode(Files.readAllBytes(file));
    }

    public static String decode(byte[] bytes) throws NotUtf8Exception {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult r = decoder.decode(in, out, true);
        if (!r.isError()) {
            r = decoder.flush(out);
        }
        if (r.isError()) {
            int line = 1;
            for (int i = 0; i < in.position(); i++) {
                if (bytes[i] == '\n') {
                    line++;
                }
            }
            throw new NotUtf8Exception(line);
        }
        return out.flip().toString();
    }
}
