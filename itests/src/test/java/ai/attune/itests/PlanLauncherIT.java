package ai.attune.itests;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

/**
 * {@code attune plan} from the launcher on the shipped LoRA recipe: its tensor rows to the byte,
 * the runtime row from the -Xmx the launcher passes on, and advice when a budget is too small.
 */
public class PlanLauncherIT {
    static final Path RECIPE = TrainLauncherIT.RECIPE;
    static final Path ROOT = RECIPE.getParent().getParent(); // the recipe's paths are relative to the repository root
    static final Map<String, String> HEAP_512M = Map.of("ATTUNE_OPTS", "-Xmx512m");

    @Test
    public void theShippedRecipeToTheByte() throws Exception {
        LauncherIT.Result r = LauncherIT.attuneIn(ROOT, HEAP_512M, "plan", RECIPE.toString(), "--device-memory", "24GB", "--json");
        assertEquals(r.err(), 0, r.code());
        JsonNode plan = new ObjectMapper().readTree(r.out());
        JsonNode rows = plan.get("components");
        // stories260K in f32: embed 512 x 64 (131,072 B), 5 layers of q 16,384, k and v 8,192, o 16,384, gate, up and
        // down [172, 64] 44,032 each, two norms of 256 B in 512-byte blocks; the final norm's block: 1,042,944 B
        assertEquals("f32, 260,032 parameters", rows.get(0).get("detail").asText());
        assertEquals(1_042_944, rows.get(0).get("bytes").asLong());
        // LoRA r 8 on all-linear: per layer A [8, 64] for q, k, v, o, gate, up (2,048 B) and [8, 172] for down (5,504 -> 5,632 B),
        // B [64, 8] for q, o, down (2,048), [32, 8] for k, v (1,024), [172, 8] for gate, up (5,632): 37,376 B x 5
        assertEquals(186_880, rows.get(1).get("bytes").asLong());
        assertEquals("gradients", rows.get(2).get("component").asText());
        assertEquals(186_880, rows.get(2).get("bytes").asLong());
        assertEquals(2 * 186_880 + 70 * 512, rows.get(3).get("bytes").asLong()); // exp_avg, exp_avg_sq; 70 step counts
        // the runtime: 100 MiB outside the heap and 40% of the 512 MiB heap
        assertEquals("runtime", rows.get(rows.size() - 1).get("component").asText());
        assertEquals((100L << 20) + (long) (0.4 * (512L << 20)), rows.get(rows.size() - 1).get("bytes").asLong());
        long sum = 0;
        for (JsonNode row : rows) {
            sum += row.get("bytes").asLong();
        }
        assertEquals(sum, plan.get("total_bytes").asLong());
        assertTrue(plan.get("fits").asBoolean());
        assertEquals(24_000_000_000L - sum, plan.get("headroom_bytes").asLong());
        assertEquals(0, plan.get("advice").size());
        assertTrue("checkpointing keeps less", plan.get("with_checkpointing").get("total_bytes").asLong() < sum);
    }

    @Test
    public void aBudgetTooSmallGetsAdviceCheapestFirst() throws Exception {
        LauncherIT.Result r = LauncherIT.attuneIn(ROOT, HEAP_512M, "plan", RECIPE.toString(), "--device-memory", "320MiB");
        assertEquals(r.err(), 0, r.code());
        List<String> lines = r.out().lines().toList();
        assertTrue(r.out(), lines.stream().anyMatch(l -> l.matches("fits in 320MiB: no \\(.* over\\)")));
        // the activations of 8 rows of 64 tokens are 40 MiB: two rows a micro-batch (and four times as many micro-batches) fit
        assertTrue(r.out(), lines.contains("to fit, in order of cost (each line adds to the one before):"));
        assertTrue(r.out(), lines.stream().anyMatch(l -> l.startsWith("  1. micro_batch_size 8 -> 2, gradient_accumulation_steps 2 -> 8 (the same updates): total ")
                && l.endsWith(", fits")));
    }

    @Test
    public void aTypoIsOneLineNamingTheKey() throws Exception {
        LauncherIT.Result r = LauncherIT.attuneIn(ROOT, "plan", RECIPE.toString(), "--set", "lora.rank=4");
        assertEquals(1, r.code());
        List<String> err = r.err().lines().filter(l -> !l.startsWith("WARNING")).toList();
        assertEquals(1, err.size());
        assertTrue(r.err(), err.get(0).startsWith("attune: lora-moby-dick.yaml: unknown key 'lora.rank'"));
        assertFalse(r.err(), r.err().contains("\tat "));
    }
}
