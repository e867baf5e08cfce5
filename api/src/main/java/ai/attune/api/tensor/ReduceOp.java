package ai.attune.api.tensor;

/** Reductions over chosen dims. MEAN divides by the number of reduced elements (an empty mean is NaN, as in PyTorch). */
public enum ReduceOp {
    SUM, MEAN, MAX, MIN
}
