package ai.attune.plugins.optim.adamw8bit;

import ai.attune.api.nn.Parameter;
import ai.attune.api.quant.DynamicMap;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.spi.OptimizerState;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import org.osgi.service.component.annotations.Component;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.stream.IntStream;

/**
 * {@code bitsandbytes.optim.AdamW8bit} (Dettmers et al., "8-bit Optimizers via Block-wise
 * Quantization", ICLR 2022, <https://arxiv.org/abs/2110.02861>): AdamW whose two moments are kept
 * as one byte per element, coded blockwise with bitsandbytes' dynamic maps, 256 elements to a
 * block, each block scaled by its own absolute maximum. About 2 bytes of state per parameter
 * instead of AdamW's 8. Also registered as {@code paged_adamw_8bit}: paging moves state between GPU
 * and host memory under pressure, and host memory is where the state of this runtime already is.
 *
 * <p>As bitsandbytes' {@code Optimizer2State} does (bitsandbytes/optim/optimizer.py): a tensor
 * with fewer than {@code min_8bit_size} elements keeps float32 state and takes the 32-bit update
 * ({@link Adam32bit}); the others keep {@code state1} and {@code state2} as u8 codes of the
 * parameter's shape (first moment on the signed map, second on the unsigned map) with
 * {@code absmax1} and {@code absmax2}, one f32 per block, and take the 8-bit update
 * ({@link Blockwise8bitAdam}, whose comment lists what the CUDA kernel does and the deliberate
 * differences). Which update a tensor takes is decided once, by the dtype of its state1, so a
 * resumed checkpoint keeps its own. The state keys are bitsandbytes' own; its {@code qmap1} and
 * {@code qmap2} are the same two 256-value maps for every tensor and are not stored per tensor.
 * Each parameter keeps its own step count, as bitsandbytes' {@code state["step"]}.
 *
 * <p>The update follows the CUDA kernels rather than bitsandbytes' CPU path, which decays before
 * the update, divides by {@code sqrt(v) / correction2 + eps}, re-quantizes through a 65,536-entry
 * lookup table and drops the sign correction: the kernels are what QLoRA runs were trained with.
 */
@Component(service = Optimizer.class, property = {Optimizer.PROPERTY + "=adamw_8bit", Optimizer.PROPERTY + "=paged_adamw_8bit"})
public final class AdamW8bitOptimizer implements Optimizer<AdamW8bitConfig> {
    /** u8 codes of exp_avg [param shape], or its f32 values below min_8bit_size. */
    static final String STATE1 = "state1";
    /** u8 codes of exp_avg_sq [param shape], or its f32 values below min_8bit_size. */
    static final String STATE2 = "state2";
    /** f32 [ceil(numel / 256)]: each block's largest |exp_avg|, which its codes are scaled by. */
    static final String ABSMAX1 = "absmax1";
    /** f32 [ceil(numel / 256)]: each block's largest exp_avg_sq. */
    static final String ABSMAX2 = "absmax2";
    /** A one-element f64 tensor, so checkpoints carry each parameter's count. */
    static final String STEP = "step";

    /** Elements one worker moves through Java arrays at a time: whole blocks, so each run codes its own. */
    static final int RUN = 64 * Blockwise8bitAdam.BLOCK;

    private final float[] code1 = DynamicMap.signed();
    private final float[] code2 = DynamicMap.unsigned();
    private final NearestCode nearest1 = new NearestCode(code1);
    private final NearestCode nearest2 = new NearestCode(code2);

    @Override
    public Class<AdamW8bitConfig> configType() {
        return AdamW8bitConfig.class;
    }

    @Override
    public AdamW8bitConfig defaultConfig() {
        return AdamW8bitConfig.DEFAULTS;
    }

    @Override
    public void step(List<Parameter> params, OptimizerState state, AdamW8bitConfig c, double lr) {
        if (!(lr >= 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException("adamw_8bit: lr must be a finite number >= 0, got " + lr);
        }
        // Checked up front so that a bad parameter leaves none of the others half-stepped.
        for (Parameter param : params) {
            if (param.grad() != null) {
                check(param, state);
            }
        }
        try (Scope tmp = Scope.open("adamw8bit-step")) {
            for (Parameter param : params) {
                if (param.grad() != null) {
                    update(param, state, c, lr, tmp);
                }
            }
        }
        state.setStep(state.step() + 1);
    }

    private void update(Parameter param, OptimizerState state, AdamW8bitConfig c, double lr, Scope tmp) {
        Tensor p = param.value();
        Backend be = p.backend();
        Tensor g = contiguous(param.grad(), tmp);
        long n = p.numel();
        Tensor stepCount = state.get(param, STEP, q -> be.zeros(DType.F64, new int[] {1}, state.scope()));
        long t = (long) Tensors.item(stepCount) + 1;
        be.fill(stepCount, t);
        AdamStep h = AdamStep.of(c, lr, t);
        FloatType type = FloatType.of(p.dtype());
        Tensor existing = state.find(param, STATE1);
        boolean eightBit = existing != null ? existing.dtype() == DType.U8 : n >= c.min8bitSize();
        if (eightBit) {
            int[] blocks = {Math.toIntExact((n + Blockwise8bitAdam.BLOCK - 1) / Blockwise8bitAdam.BLOCK)};
            Tensor s1 = state.get(param, STATE1, q -> be.zeros(DType.U8, p.shape(), state.scope()));
            Tensor s2 = state.get(param, STATE2, q -> be.zeros(DType.U8, p.shape(), state.scope()));
            Tensor a1 = state.get(param, ABSMAX1, q -> be.zeros(DType.F32, blocks, state.scope()));
            Tensor a2 = state.get(param, ABSMAX2, q -> be.zeros(DType.F32, blocks, state.scope()));
            forEachRun(n, () -> new Run(new Blockwise8bitAdam(code1, nearest1, code2, nearest2)), (r, start, len) -> {
                long block = start / Blockwise8bitAdam.BLOCK;
                int nb = (len + Blockwise8bitAdam.BLOCK - 1) / Blockwise8bitAdam.BLOCK;
                ElementRuns.readFloats(p, start, len, r.p, r.half);
                ElementRuns.readFloats(g, start, len, r.g, r.half);
                ElementRuns.readBytes(s1, start, len, r.c1);
                ElementRuns.readBytes(s2, start, len, r.c2);
                ElementRuns.readFloats(a1, block, nb, r.a1, null);
                ElementRuns.readFloats(a2, block, nb, r.a2, null);
                r.kernel.update(r.p, r.g, r.c1, r.c2, r.a1, r.a2, len, h, type);
                ElementRuns.writeFloats(r.p, p, start, len, r.half);
                ElementRuns.writeBytes(r.c1, s1, start, len);
                ElementRuns.writeBytes(r.c2, s2, start, len);
                ElementRuns.writeFloats(r.a1, a1, block, nb, null);
                ElementRuns.writeFloats(r.a2, a2, block, nb, null);
            });
        } else {
            Tensor s1 = state.get(param, STATE1, q -> be.zeros(DType.F32, p.shape(), state.scope()));
            Tensor s2 = state.get(param, STATE2, q -> be.zeros(DType.F32, p.shape(), state.scope()));
            forEachRun(n, () -> new Run(null), (r, start, len) -> {
                ElementRuns.readFloats(p, start, len, r.p, r.half);
                ElementRuns.readFloats(g, start, len, r.g, r.half);
                ElementRuns.readFloats(s1, start, len, r.m, null);
                ElementRuns.readFloats(s2, start, len, r.v, null);
                Adam32bit.update(r.p, r.g, r.m, r.v, len, h, type);
                ElementRuns.writeFloats(r.p, p, start, len, r.half);
                ElementRuns.writeFloats(r.m, s1, start, len, null);
                ElementRuns.writeFloats(r.v, s2, start, len, null);
            });
        }
    }

    /** One worker's arrays for a run of {@link #RUN} elements. */
    private static final class Run {
        final float[] p = new float[RUN];
        final float[] g = new float[RUN];
        final short[] half = new short[RUN];
        final Blockwise8bitAdam kernel;
        final byte[] c1;
        final byte[] c2;
        final float[] a1;
        final float[] a2;
        final float[] m;
        final float[] v;

        Run(Blockwise8bitAdam kernel) {
            this.kernel = kernel;
            boolean eightBit = kernel != null;
            c1 = eightBit ? new byte[RUN] : null;
            c2 = eightBit ? new byte[RUN] : null;
            a1 = eightBit ? new float[RUN / Blockwise8bitAdam.BLOCK] : null;
            a2 = eightBit ? new float[RUN / Blockwise8bitAdam.BLOCK] : null;
            m = eightBit ? null : new float[RUN];
            v = eightBit ? null : new float[RUN];
        }
    }

    private interface RunBody {
        void apply(Run r, long start, int len);
    }

    /**
     * Runs {@code body} over [0, n) in runs of {@link #RUN} elements, spread over the cores, each
     * worker claiming the next run when done with its last (so a core slowed by other work holds
     * up no share of the tensor): runs are whole blocks and independent, so the result does not
     * depend on how they are shared out.
     */
    private static void forEachRun(long n, Supplier<Run> buffers, RunBody body) {
        long runs = (n + RUN - 1) / RUN;
        int workers = (int) Math.min(runs, Runtime.getRuntime().availableProcessors());
        AtomicLong next = new AtomicLong();
        IntStream.range(0, workers).parallel().forEach(w -> {
            Run r = buffers.get();
            for (long k; (k = next.getAndIncrement()) < runs; ) {
                long start = k * RUN;
                body.apply(r, start, (int) Math.min(RUN, n - start));
            }
        });
    }

    /** The gradient itself when contiguous, else a contiguous copy in the step's scope. */
    private static Tensor contiguous(Tensor g, Scope tmp) {
        if (g.isContiguous()) {
            return g;
        }
        Tensor c = g.backend().empty(g.dtype(), g.shape(), tmp);
        g.backend().copy(g, c);
        return c;
    }

    private static void check(Parameter param, OptimizerState state) {
        Tensor p = param.value();
        Tensor g = param.grad();
        if (!p.isContiguous()) {
            throw new IllegalArgumentException("adamw_8bit: parameter " + param.name() + " is a strided view; the update is written in place and needs it contiguous");
        }
        if (!Arrays.equals(p.shape(), g.shape())) {
            throw new IllegalArgumentException("adamw_8bit: the gradient of " + param.name() + " has shape " + Shape.str(g.shape())
                    + " but the parameter has " + Shape.str(p.shape()));
        }
        for (Tensor t : List.of(p, g)) {
            if (FloatType.of(t.dtype()) == null) {
                throw new IllegalArgumentException("adamw_8bit: " + (t == p ? "parameter " : "the gradient of ") + param.name() + " is " + t.dtype()
                        + "; bitsandbytes' 8-bit AdamW updates f32, bf16 and f16 parameters (use optimizer adamw for " + t.dtype() + ")");
            }
        }
        Tensor s1 = state.find(param, STATE1);
        if (s1 != null && s1.numel() != p.numel()) {
            throw new IllegalStateException("adamw_8bit: the state of " + param.name() + " is for " + s1.numel() + " elements but the parameter has "
                    + p.numel() + "; it was saved for another model");
        }
        Tensor a1 = state.find(param, ABSMAX1);
        long blocks = (p.numel() + Blockwise8bitAdam.BLOCK - 1) / Blockwise8bitAdam.BLOCK;
        if (s1 != null && s1.dtype() == DType.U8 && (a1 == null || a1.numel() != blocks)) {
            throw new IllegalStateException("adamw_8bit: the 8-bit state of " + param.name() + " needs absmax1 with " + blocks
                    + " blocks of 256, got " + (a1 == null ? "none" : a1.numel()));
        }
    }
}
