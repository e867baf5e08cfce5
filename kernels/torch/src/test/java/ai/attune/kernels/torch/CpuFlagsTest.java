package ai.attune.kernels.torch;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

public class CpuFlagsTest {
    static final String ZEN4 = """
            processor\t: 0
            vendor_id\t: AuthenticAMD
            flags\t\t: fpu vme avx2 avx512f avx512bw avx512_bf16 avx512_vnni
            bugs\t\t: sysret_ss_attrs

            processor\t: 1
            flags\t\t: fpu vme avx2 avx512f avx512bw avx512_bf16 avx512_vnni
            """;

    @Test
    public void theFirstFlagsLineIsRead() {
        assertEquals(Set.of("fpu", "vme", "avx2", "avx512f", "avx512bw", "avx512_bf16", "avx512_vnni"), CpuFlags.parse(ZEN4));
    }

    @Test
    public void avx512Bf16OrAmxMeansNativeBf16() {
        assertTrue(CpuFlags.nativeBf16(CpuFlags.parse(ZEN4)));
        assertTrue(CpuFlags.nativeBf16(Set.of("avx512f", "amx_bf16", "amx_tile")));
        assertFalse(CpuFlags.nativeBf16(Set.of("avx2", "fma", "avx512f")));
    }

    @Test
    public void noCpuinfoMeansNoFlags() throws Exception {
        assertEquals(Set.of(), CpuFlags.read(Path.of("/nonexistent/cpuinfo")));
        Path f = Files.createTempFile("cpuinfo", "");
        Files.writeString(f, "processor : 0\n");
        assertEquals(Set.of(), CpuFlags.read(f));
    }
}
