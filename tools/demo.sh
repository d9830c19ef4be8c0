#!/usr/bin/env bash
# The demo `make demo` runs after set-up: speech the recognizer has never heard (a held-out voice reading new
# sentences, and real read speech), prepared, sharded, transcribed and scored. Until the default recognizer
# ships in speech/assets/asr, the demo trains a tiny one first, so every step runs (its words are not useful).
set -euo pipefail
venv=${1:-.venv}
cd "$(dirname "$0")/.."
export PATH="$PWD/$venv/bin:$PATH" WANDB_MODE=${WANDB_MODE:-disabled}
work=build/demo
rm -rf "$work"

echo "== 1. synthesise five new sentences with flite's slt voice; import Debian's real read speech"
python tools/make_synthetic_corpus.py --out "$work/unseen" --sentences tools/demo_sentences.txt --count 5 \
    --voices flite:slt --seed 1
speech prepare sphinx /usr/share/pocketsphinx/test/data/librivox -o "$work/librivox.jsonl"

model=speech/assets/asr
if [ ! -f "$model/model.safetensors" ]; then
    echo "== 2. no shipped recognizer yet: train a tiny one for 40 steps on 24 synthetic utterances"
    python tools/make_synthetic_corpus.py --out "$work/train" --count 24 --seed 2
    speech shard "$work/train/manifest.jsonl" -o "$work/shards/train" --max-samples 8
    speech shard "$work/librivox.jsonl" -o "$work/shards/valid"
    speech train conf/asr/tiny.yaml data.train="$work/shards/train" data.valid="$work/shards/valid" \
        train.out_dir="$work/run" train.max_steps=40 train.valid_every=20 train.checkpoint_every=20
    model=$work/run/best
fi

echo "== 3. transcribe with $model"
speech transcribe "$work/unseen/audio" /usr/share/pocketsphinx/test/data/librivox -o "$work/transcripts" \
    --format txt,json,srt --model "$model"
find "$work/transcripts" -name "*.txt" | sort | while read -r file; do printf "%-48s %s\n" "${file#"$work"/transcripts/}" "$(cat "$file")"; done

echo "== 4. score against the transcripts: greedy, then beam search with the model's character LM"
for beam in 0 32; do
    speech eval "$work/unseen/manifest.jsonl" --model "$model" --beam $beam --worst 2
    speech eval "$work/librivox.jsonl" --model "$model" --beam $beam --worst 2
done
