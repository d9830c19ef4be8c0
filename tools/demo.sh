#!/usr/bin/env bash
# The demo `make demo` runs after set-up: make a small multi-voice corpus, import, shard and train on it.
# (Transcription and synthesis join this demo as those jobs land.)
set -euo pipefail
venv=${1:-.venv}
cd "$(dirname "$0")/.."
export PATH="$PWD/$venv/bin:$PATH" WANDB_MODE=${WANDB_MODE:-disabled}
work=build/demo
rm -rf "$work"

echo "== 1. synthesise 24 utterances from espeak-ng, flite and festival voices"
python tools/make_synthetic_corpus.py --out "$work/corpus" --count 24 --seed 1
head -n 3 "$work/corpus/manifest.jsonl"

echo "== 2. import real read speech (Debian pocketsphinx-testdata) as a manifest"
speech prepare sphinx /usr/share/pocketsphinx/test/data/librivox -o "$work/real.jsonl"

echo "== 3. write WebDataset shards"
speech shard "$work/corpus/manifest.jsonl" -o "$work/shards/train" --max-samples 8
speech shard "$work/real.jsonl" -o "$work/shards/valid"

echo "== 4. train a tiny recognizer for 40 steps (checkpoints, validation, best model)"
speech train conf/asr/tiny.yaml data.train="$work/shards/train" data.valid="$work/shards/valid" \
    train.out_dir="$work/run" train.max_steps=40 train.valid_every=20 train.checkpoint_every=20
ls "$work/run" "$work/run/best"
