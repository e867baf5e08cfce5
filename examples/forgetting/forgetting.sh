#!/usr/bin/env bash
# Catastrophic forgetting made visible, and what merging does to it.
#
# Fine-tunes the pretrained tiny Llama stories260K (children's stories) fully on two texts from
# ../shared (Moby-Dick and the Harvard sentences), merges the two with linear, task_arithmetic,
# TIES and DARE, and prints the perplexity of every model on held-out parts of both texts and on
# the base model's own kind of text (stories it writes itself). Run from the repository root after
# building: examples/forgetting/forgetting.sh [WORK_DIR]   (default runs/forgetting; a few minutes)
set -euo pipefail
cd "$(dirname "$0")/../.."
A=distribution/target/attune/bin/attune
S=../shared
W=${1:-runs/forgetting}
BASE=$S/models/stories260K
mkdir -p "$W/data"

# Held-out parts: the last fifth of each text is never trained on.
split() { # file name
  local n; n=$(wc -l < "$1")
  head -n $((n * 4 / 5)) "$1" > "$W/data/$2-train.txt"
  tail -n +$((n * 4 / 5 + 1)) "$1" > "$W/data/$2-heldout.txt"
}
split $S/data/text/mobydick.txt moby
split $S/data/text/harvard_sentences.txt harvard

# The base model's own kind of text: 20 stories it writes itself (sampled at temperature 1, seeds 1-20).
if [ ! -s "$W/data/stories.txt" ]; then
  for s in $(seq 1 20); do
    printf 'Once upon a time%s\n' "$($A generate --model $BASE --prompt "Once upon a time" --max-new-tokens 120 \
      --temperature 1.0 --seed "$s" 2>/dev/null | tr '\n' ' ')"
  done > "$W/data/stories.txt"
fi

finetune() { # name
  [ -d "$W/ft-$1/final" ] && return 0
  cat > "$W/ft-$1.yaml" <<YAML
model: $BASE
method: full
data: {format: text, path: $W/data/$1-train.txt, max_seq_len: 64, truncate: true, shuffle: true}
train:
  micro_batch_size: 8
  gradient_accumulation_steps: 2
  max_steps: 100
  seed: 0
  optimizer: {name: adamw, lr: 2.0e-3, weight_decay: 0.0}
  schedule: {name: cosine, warmup_steps: 5}
  max_grad_norm: 1.0
output: $W/ft-$1
YAML
  $A train "$W/ft-$1.yaml" > /dev/null
}
finetune moby
finetune harvard

merge() { # name method parameters-of-each-model [top-level parameters]
  [ -d "$W/merge-$1" ] && return 0
  cat > "$W/merge-$1.yaml" <<YAML
merge_method: $2
base_model: $BASE
models:
  - {model: $W/ft-moby/final, parameters: $3}
  - {model: $W/ft-harvard/final, parameters: $3}
parameters: ${4:-{}}
dtype: float32
YAML
  $A merge "$W/merge-$1.yaml" --out "$W/merge-$1" --random-seed 0 > /dev/null
}
merge linear linear "{weight: 0.5}"
merge task_arithmetic task_arithmetic "{weight: 1.0}"
merge ties ties "{weight: 1.0, density: 0.5}"
merge dare dare_linear "{weight: 1.0, density: 0.5}"

ppl() { # model data
  $A eval --model "$1" --data "$2" --max-seq-len 64 2>/dev/null | sed 's/.*"perplexity":\([0-9.]*\).*/\1/'
}
echo "| model | Moby-Dick (held out) | Harvard sentences (held out) | stories (the base's own kind) |"
echo "| --- | --- | --- | --- |"
for m in "base stories260K:$BASE" "fine-tuned on Moby-Dick:$W/ft-moby/final" "fine-tuned on Harvard:$W/ft-harvard/final" \
         "linear (0.5 / 0.5):$W/merge-linear" "task_arithmetic (1.0 / 1.0):$W/merge-task_arithmetic" \
         "ties (1.0 / 1.0, density 0.5):$W/merge-ties" "dare_linear (1.0 / 1.0, density 0.5):$W/merge-dare"; do
  name=${m%%:*}; dir=${m#*:}
  echo "| $name | $(ppl "$dir" "$W/data/moby-heldout.txt") | $(ppl "$dir" "$W/data/harvard-heldout.txt") | $(ppl "$dir" "$W/data/stories.txt") |"
done
