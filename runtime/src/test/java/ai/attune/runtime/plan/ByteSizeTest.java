package ai.attune.runtime.plan;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Sizes as accelerate's max_memory strings read them: GB is 10^9, GiB 2^30. */
class ByteSizeTest {
    @Test
    void decimalAndBinaryUnits() {
        assertEquals(24_000_000_000L, ByteSize.parse("24GB"));
        assertEquals(24L << 30, ByteSize.parse("24GiB"));
        assertEquals(24L << 30, ByteSize.parse("24 gib"));
        assertEquals(1_500_000_000L, ByteSize.parse("1.5GB"));
        assertEquals(512L << 20, ByteSize.parse("512MiB"));
        assertEquals(4096, ByteSize.parse("4096"));
    }

    @Test
    void anythingElseIsRefusedNamingIt() {
        for (String bad : new String[] {"24 gigs", "", "GB", "-1GB", "24GB5", "0.1B"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ByteSize.parse(bad), bad);
            assertTrue(e.getMessage().startsWith("'" + bad + "' is not"), e.getMessage());
        }
    }

    @Test
    void printedInTheLargestBinaryUnit() {
        assertEquals("512 B", ByteSize.format(512));
        assertEquals("1.50 KiB", ByteSize.format(1536));
        assertEquals("22.35 GiB", ByteSize.format(24_000_000_000L));
        assertEquals("24GB (22.35 GiB)", ByteSize.asGiven("24GB", 24_000_000_000L));
        assertEquals("24GiB", ByteSize.asGiven("24GiB", 24L << 30));
    }
}
