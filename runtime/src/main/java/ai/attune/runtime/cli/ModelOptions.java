package ai.attune.runtime.cli;

import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The options every command that runs a model shares. */
final class ModelOptions {
    @Option(names = "--model", required = true, paramLabel = "DIR|NAME",
            description = "Hugging Face model directory (config.json, *.safetensors, tokenizer.json), or a model that ships with Attune: all-MiniLM-L6-v2, bge-small-en-v1.5, e5-small-v2.")
    String model;

    @Option(names = "--adapter", paramLabel = "DIR", description = "Adapter directory to apply: PEFT LoRA, prompt or prefix tuning, or AdapterHub bottleneck adapters (adapter_config.json).")
    Path adapter;

    @Option(names = "--backend", paramLabel = "NAME", description = "Compute backend (default: the highest-ranked).")
    String backend;
}
