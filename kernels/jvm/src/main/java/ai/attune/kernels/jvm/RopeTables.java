package ai.attune.kernels.jvm;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The cos and sin tables of rotary embedding, per set of inverse frequencies, so that a step's
 * RoPE calls (two per attention layer forward, two backward) look angles up instead of computing
 * them. An entry is {@code (float) Math.cos((float) p * invFreq[i])}, the very expression {@link
 * Rotary} evaluates, so the table holds the reference's bits. A table covers positions
 * {@code [0, positions)} and is rebuilt larger (keeping the rows it has) when a call needs a
 * later position. One instance belongs to one backend; it keeps the last {@link #KEPT} frequency
 * sets (a model's heads share one; scaled variants add a few).
 */
final class RopeTables {
    /** cos and sin [positions, half], row-major. Never written after it is published. */
    record Table(float[] invFreq, int positions, float[] cos, float[] sin) {
        int half() {
            return invFreq.length;
        }
    }

    static final int KEPT = 4;
    /** Entries per table (64 MiB for both): 131072 positions of a 128-dim head. */
    static final int MAX_ENTRIES = 1 << 23;
    private static final int MIN_POSITIONS = 256;

    private final List<Table> tables = new ArrayList<>(); // most recently used first

    /** A table covering position {@code maxPosition}, or null when it would exceed {@link #MAX_ENTRIES}. */
    synchronized Table covering(float[] invFreq, long maxPosition) {
        int half = invFreq.length;
        if (half == 0 || maxPosition < 0 || maxPosition >= MAX_ENTRIES / half) {
            return null;
        }
        Table old = null;
        for (int k = 0; k < tables.size(); k++) {
            Table t = tables.get(k);
            if (Arrays.equals(t.invFreq, invFreq)) {
                tables.remove(k);
                old = t;
                break;
            }
        }
        Table t = old != null && maxPosition < old.positions ? old : grow(old, invFreq, maxPosition);
        tables.addFirst(t);
        if (tables.size() > KEPT) {
            tables.removeLast();
        }
        return t;
    }

    synchronized void clear() {
        tables.clear();
    }

    private static Table grow(Table old, float[] invFreq, long maxPosition) {
        int half = invFreq.length;
        // Doubling, so a run whose sequences lengthen step by step rebuilds O(log n) times.
        int positions = (int) Math.min(MAX_ENTRIES / half, Math.max(MIN_POSITIONS, Long.highestOneBit(maxPosition) << 1));
        float[] cos = new float[positions * half];
        float[] sin = new float[positions * half];
        int from = 0;
        if (old != null) {
            System.arraycopy(old.cos, 0, cos, 0, old.cos.length);
            System.arraycopy(old.sin, 0, sin, 0, old.sin.length);
            from = old.positions;
        }
        for (int p = from; p < positions; p++) {
            for (int i = 0; i < half; i++) {
                float angle = (float) p * invFreq[i];
                cos[p * half + i] = (float) Math.cos(angle);
                sin[p * half + i] = (float) Math.sin(angle);
            }
        }
        return new Table(invFreq.clone(), positions, cos, sin);
    }
}
