package ai.attune.kernels.torch;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The CPU's feature flags as Linux lists them in {@code /proc/cpuinfo}; empty elsewhere. Used to
 * tell whether ATen's CPU kernels multiply bf16 natively: oneDNN uses AVX512-BF16 and AMX when the
 * CPU has them and emulates bf16 in f32 otherwise, where bf16 would only add casts.
 */
final class CpuFlags {
    private CpuFlags() {}

    private static final Set<String> FLAGS = read(Path.of("/proc/cpuinfo"));

    /** True when the CPU has AVX512-BF16 or AMX's bf16 tiles. */
    static boolean nativeBf16() {
        return nativeBf16(FLAGS);
    }

    static boolean nativeBf16(Set<String> flags) {
        return flags.contains("avx512_bf16") || flags.contains("amx_bf16");
    }

    static Set<String> read(Path cpuinfo) {
        try {
            return parse(Files.readString(cpuinfo));
        } catch (IOException | RuntimeException e) {
            return Set.of(); // not Linux, or unreadable: no native bf16 is assumed
        }
    }

    /** The first {@code flags : ...} line's words (every core lists the same). */
    static Set<String> parse(String cpuinfo) {
        return cpuinfo.lines().filter(l -> l.startsWith("flags")).findFirst()
                .map(l -> Arrays.stream(l.substring(l.indexOf(':') + 1).trim().split("\\s+")).collect(Collectors.toUnmodifiableSet()))
                .orElse(Set.of());
    }
}
