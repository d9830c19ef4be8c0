#!/usr/bin/env bash
# The demo `make demo` runs after set-up: speech the shipped recognizer has never heard (a held-out voice
# reading new sentences, and real read speech), transcribed and scored.
set -euo pipefail
venv=${1:-.venv}
cd "$(dirname "$0")/.."
export PATH="$PWD/$venv/bin:$PATH" WANDB_MODE=${WANDB_MODE:-disabled}
work=build/demo
rm -rf "$work"

echo "== 1. synthesise five new sentences with flite's slt voice (held out of the recognizer's training)"
python tools/make_synthetic_corpus.py --out "$work/unseen" --sentences tools/demo_sentences.txt --count 5 \
    --voices flite:slt --seed 1

echo "== 2. transcribe them and Debian's real read speech (pocketsphinx-testdata) with the shipped model"
speech transcribe "$work/unseen/audio" /usr/share/pocketsphinx/test/data/librivox -o "$work/transcripts" \
    --format txt,json,srt
for file in "$work"/transcripts/*.txt; do printf '%-48s %s\n' "$(basename "$file")" "$(cat "$file")"; done

echo "== 3. score them against their transcripts (greedy, then beam search + 3-gram LM)"
speech prepare sphinx /usr/share/pocketsphinx/test/data/librivox -o "$work/librivox.jsonl"
speech eval "$work/unseen/manifest.jsonl" --worst 2
speech eval "$work/unseen/manifest.jsonl" --beam 32 --worst 0
speech eval "$work/librivox.jsonl" --worst 2
speech eval "$work/librivox.jsonl" --beam 32 --worst 0
