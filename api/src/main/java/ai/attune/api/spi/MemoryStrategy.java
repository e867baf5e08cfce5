package ai.attune.api.spi;

import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.tensor.Tensor;

import java.util.List;
import java.util.Map;

/**
 * A way to trade compute for memory or precision (mixed precision, gradient checkpointing),
 * registered with {@code attune.memory=<name>}. The training loop installs it on the model once and
 * then calls the returned session's hooks around every optimizer step.
 *
 * @param <C> the config record
 */
public interface MemoryStrategy<C> {
    String PROPERTY = "attune.memory";

    Class<C> configType();

    /** The config with the strategy's defaults. */
    C defaultConfig();

    /** Installs the strategy on a model before training starts; returns the run's hooks. */
    Session apply(Module model, C config);

    /** The per-step hooks of one run, in the order the loop calls them. Each defaults to doing nothing. */
    interface Session {
        /** A region around each micro-batch's forward and backward (an autocast region, say). */
        default Region forward() {
            return () -> { };
        }

        /** The loss to backpropagate: the micro-batch's loss, scaled when gradients need headroom (f16). */
        default Tensor scaleLoss(Tensor loss) {
            return loss;
        }

        /**
         * After the step's backward passes, before clipping: undoes the loss scale on the
         * gradients; false when they hold an infinity or NaN and this optimizer step must be skipped.
         */
        default boolean unscale(List<Parameter> params) {
            return true;
        }

        /** After the optimizer step, or after skipping it ({@code stepped} false): adjusts the loss scale. */
        default void update(boolean stepped) {}

        /** State a checkpoint keeps (the loss scale and its growth counter), by name. */
        default Map<String, Double> state() {
            return Map.of();
        }

        /** Restores what {@link #state} returned when the run is resumed. */
        default void restore(Map<String, Double> state) {}

        /**
         * Several strategies at once (bf16 with checkpointing, say): regions open in the given
         * order and close in reverse, the loss passes through each scaler in turn, a step is taken
         * only if every session agrees, and state keys are shared (they must not clash).
         */
        static Session compose(List<Session> sessions) {
            if (sessions.size() == 1) {
                return sessions.getFirst();
            }
            List<Session> all = List.copyOf(sessions);
            return new Session() {
                @Override
                public Region forward() {
                    List<Region> open = new java.util.ArrayList<>();
                    for (Session s : all) {
                        open.add(s.forward());
                    }
                    return () -> {
                        for (int i = open.size() - 1; i >= 0; i--) {
                            open.get(i).close();
                        }
                    };
                }

                @Override
                public Tensor scaleLoss(Tensor loss) {
                    for (Session s : all) {
                        loss = s.scaleLoss(loss);
                    }
                    return loss;
                }

                @Override
                public boolean unscale(List<Parameter> params) {
                    boolean finite = true;
                    for (Session s : all) {
                        finite &= s.unscale(params);
                    }
                    return finite;
                }

                @Override
                public void update(boolean stepped) {
                    all.forEach(s -> s.update(stepped));
                }

                @Override
                public Map<String, Double> state() {
                    Map<String, Double> out = new java.util.TreeMap<>();
                    all.forEach(s -> out.putAll(s.state()));
                    return out;
                }

                @Override
                public void restore(Map<String, Double> state) {
                    all.forEach(s -> s.restore(state));
                }
            };
        }
    }

    /** A region; closing it ends it. */
    interface Region extends AutoCloseable {
        @Override
        void close();
    }
}
