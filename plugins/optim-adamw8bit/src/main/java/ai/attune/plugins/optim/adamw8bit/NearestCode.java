package ai.attune.plugins.optim.adamw8bit;

import ai.attune.api.quant.DynamicMap;

/**
 * {@link DynamicMap#quantize}'s index for every float, from one table lookup and one comparison
 * instead of its eight data-dependent branches, which mispredict on real moments and made the
 * search most of the 8-bit step's time.
 *
 * <p>The table is over the float's bits made order-preserving (negatives reversed below the
 * positives): 65,536 cells of sign, exponent and the top 7 mantissa bits, each under 0.8% of its
 * magnitude wide. The search's index never decreases as x grows (over non-NaN floats): its seven
 * comparisons against the odd indices 1, 3, ..., 253 land on the even index
 * {@code e = 2 * #{odd k : x > code[k]}}, and its last test moves to {@code e + 1} above the
 * midpoint {@code (code[e] + code[e + 1]) * 0.5f} or to {@code e - 1} below
 * {@code (code[e - 1] + code[e]) * 0.5f}, midpoints that lie between the codes. So a cell whose
 * two ends get the same index has it throughout, and one where it rises by one changes at a
 * single float, found here by bisection with the search itself: x takes the higher index from
 * that float on. A cell with two changes, or with one at zero (whose two signs compare equal),
 * would take the search itself, as the cells holding NaN do; for both maps the NaN cells are the
 * only ones. {@code NearestCodeTest} compares the two around every code, midpoint and cell edge
 * and on a sample of all floats, and on every one of the 2^32 floats when asked to.
 */
final class NearestCode {
    private static final int CELL_SHIFT = 16;
    private static final int CELLS = 1 << (32 - CELL_SHIFT);

    private final float[] code;
    /** Per cell: the index at its low end, or -1 for a cell that takes the search. */
    private final short[] base = new short[CELLS];
    /** Per cell: the first float with the next index, or +infinity when the index is the same throughout. */
    private final float[] rise = new float[CELLS];

    /** A lookup for {@code code}, a sorted map of {@link DynamicMap#SIZE} values. */
    NearestCode(float[] code) {
        if (code.length != DynamicMap.SIZE) {
            throw new IllegalArgumentException("a dynamic map has " + DynamicMap.SIZE + " values, got " + code.length);
        }
        this.code = code.clone();
        for (int cell = 0; cell < CELLS; cell++) {
            int low = cell << CELL_SHIFT;
            int high = low | (1 << CELL_SHIFT) - 1;
            rise[cell] = Float.POSITIVE_INFINITY;
            base[cell] = -1;
            if (Float.isNaN(fromKey(low)) || Float.isNaN(fromKey(high))) {
                continue;
            }
            int from = DynamicMap.quantize(code, fromKey(low));
            int to = DynamicMap.quantize(code, fromKey(high));
            if (to == from) {
                base[cell] = (short) from;
            } else if (to == from + 1) {
                float first = fromKey(firstKeyWith(to, low, high));
                if (first != 0f) {
                    base[cell] = (short) from;
                    rise[cell] = first;
                }
            }
        }
    }

    /** The same index as {@code DynamicMap.quantize(code, x)}. */
    int index(float x) {
        int cell = key(x) >>> CELL_SHIFT;
        int c = base[cell];
        if (c < 0) {
            return DynamicMap.quantize(code, x);
        }
        return c + (x >= rise[cell] ? 1 : 0);
    }

    /** The smallest key in [low, high] whose float the search gives {@code index}; high's does. */
    private int firstKeyWith(int index, int low, int high) {
        long a = Integer.toUnsignedLong(low);
        long b = Integer.toUnsignedLong(high);
        while (a < b) {
            long mid = (a + b) >>> 1;
            if (DynamicMap.quantize(code, fromKey((int) mid)) == index) {
                b = mid;
            } else {
                a = mid + 1;
            }
        }
        return (int) b;
    }

    /** The float's bits reordered so that unsigned order is numeric order: negatives reversed below the positives. */
    private static int key(float x) {
        int bits = Float.floatToRawIntBits(x);
        return bits ^ (bits >> 31 | Integer.MIN_VALUE); // no branch on the sign, which is random for a first moment
    }

    private static float fromKey(int key) {
        return Float.intBitsToFloat(key < 0 ? key & Integer.MAX_VALUE : ~key);
    }
}
