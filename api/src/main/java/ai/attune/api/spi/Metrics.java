package ai.attune.api.spi;

/**
 * Where a technique reports numbers about itself while a job runs (a LoRA layer's update norm, a
 * soft prompt's norm): the runtime writes them to the run's events.jsonl as {@code metric} events,
 * tagged with the technique, and a lab server publishes them on the job's event-bus address.
 */
@FunctionalInterface
public interface Metrics {
    void record(String name, double value);
}
