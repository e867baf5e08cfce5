package ai.attune.runtime.cli;

import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The options every command that runs a model shares. */
final class ModelOptions {
    @Option(names = "--model", required = true, paramLabel = "DIR|NAME",
            description = "Hugging Face model directory (config.json, *.safetensors, tokenizer.json), or a model that ships with Attune: all-MiniLM-L6-v2.")
    String model;

    @Option(names = "--adapter", paramLabel = "DIR", description = "PEFT LoRA adapter directory to apply (adapter_config.json, adapter_model.safetensors).")
    Path adapter;

    @Option(names = "--backend", paramLabel = "NAME", description = "Compute backend (default: the highest-ranked).")
    String backend;
}
