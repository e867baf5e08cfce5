package ai.attune.runtime.generate;

import ai.attune.api.autograd.GradMode;
import ai.attune.api.autograd.Views;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.KvCache;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.runtime.text.Tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** Autoregressive decoding with a KV cache: one prefill of the prompt, then one token per step. */
public final class Generator {
    /** What a generation produced: the new ids (without a final EOS) and their text, cut at a stop string. */
    public record Result(long[] ids, String text, int promptTokens) {}

    private final CausalLM lm;
    private final Backend backend;
    private final Tokenizer tokenizer;
    private final Set<Long> eos;

    public Generator(CausalLM lm, Backend backend, Tokenizer tokenizer, Set<Long> eos) {
        this.lm = lm;
        this.backend = backend;
        this.tokenizer = tokenizer;
        this.eos = eos;
    }

    public Result generate(long[] prompt, int maxNewTokens, Sampling sampling, List<String> stops) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt encodes to no tokens and the tokenizer adds no BOS: nothing to continue");
        }
        int capacity = Math.min(prompt.length + maxNewTokens, lm.maxPositions());
        if (prompt.length >= capacity && maxNewTokens > 0) {
            throw new IllegalArgumentException("the prompt has " + prompt.length + " tokens; the model supports " + lm.maxPositions() + " positions");
        }
        TokenPicker picker = new TokenPicker(sampling);
        List<Long> out = new ArrayList<>();
        String text = "";
        try (Scope gen = Scope.open("generate"); GradMode.Region ng = GradMode.noGrad()) {
            KvCache cache = lm.newCache(1, capacity, gen);
            long[] input = prompt;
            int extra = cache.capacity() - capacity; // positions a method's hooks take in the cache (virtual tokens, a prefix)
            while (out.size() < maxNewTokens && cache.length() + input.length <= capacity + extra) {
                int next;
                try (Scope step = Scope.open("step")) {
                    Tensor logits = lm.forward(Tensors.ofLongs(backend, input, 1, input.length), null, cache); // [1, (P +) t, vocab]
                    Tensor last = Views.slice(logits, 1, logits.size(1) - 1, logits.size(1));
                    next = picker.pick(Tensors.toDoubles(last));
                }
                if (eos.contains((long) next)) {
                    break;
                }
                out.add((long) next);
                text = tokenizer.decode(ids(out));
                int cut = firstStop(text, stops);
                if (cut >= 0) {
                    text = text.substring(0, cut);
                    break;
                }
                input = new long[] {next};
            }
        }
        return new Result(ids(out), text, prompt.length);
    }

    private static int firstStop(String text, List<String> stops) {
        int best = -1;
        for (String s : stops) {
            int i = s.isEmpty() ? -1 : text.indexOf(s);
            if (i >= 0 && (best < 0 || i < best)) {
                best = i;
            }
        }
        return best;
    }

    private static long[] ids(List<Long> l) {
        return l.stream().mapToLong(Long::longValue).toArray();
    }
}
