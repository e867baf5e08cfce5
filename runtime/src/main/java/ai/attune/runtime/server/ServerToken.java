package ai.attune.runtime.server;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * The server's bearer token: 32 random bytes in hex, generated on first start into a file only its
 * owner can read. {@link #generated()} tells the caller to print it, which happens only that once.
 */
public final class ServerToken {
    private final String token;
    private final boolean generated;

    private ServerToken(String token, boolean generated) {
        this.token = token;
        this.generated = generated;
    }

    /** Reads the token file, or creates it (owner read/write only) with a new token. */
    public static ServerToken loadOrCreate(Path file) throws IOException {
        if (Files.exists(file)) {
            String t = Files.readString(file, StandardCharsets.UTF_8).strip();
            if (t.isEmpty()) {
                throw new IOException("token file " + file + " is empty; delete it to have a new token generated");
            }
            return new ServerToken(t, false);
        }
        byte[] bytes = new byte[32];
        new SecureRandom().nextBytes(bytes);
        String t = HexFormat.of().formatHex(bytes);
        Path dir = Files.createDirectories(file.toAbsolutePath().getParent());
        Path tmp = dir.resolve("." + file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        try {
            // created with its permissions, so the token is never readable by others, even briefly
            Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (UnsupportedOperationException notPosix) {
            Files.createFile(tmp);
        }
        Files.writeString(tmp, t + "\n", StandardCharsets.UTF_8);
        try {
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException raced) {
            Files.deleteIfExists(tmp);
            return loadOrCreate(file);
        }
        return new ServerToken(t, true);
    }

    public static ServerToken of(String token) {
        return new ServerToken(token, false);
    }

    public String value() {
        return token;
    }

    public boolean generated() {
        return generated;
    }

    /** Checks an {@code Authorization} header in constant time. */
    public boolean accepts(String authorization) {
        if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return false;
        }
        return MessageDigest.isEqual(authorization.substring(7).strip().getBytes(StandardCharsets.UTF_8), token.getBytes(StandardCharsets.UTF_8));
    }
}
