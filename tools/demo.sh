#!/usr/bin/env bash
# The demo `make demo` runs after set-up, with the shipped models: (1-3) speech the recognizer has never heard
# (a held-out voice reading new sentences, and real read speech) transcribed and scored; (4) a text file with
# numbers, money and abbreviations spoken by the default voice, then transcribed back and scored.
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
echo "== 2. transcribe with $model"
speech transcribe "$work/unseen/audio" /usr/share/pocketsphinx/test/data/librivox -o "$work/transcripts" \
    --format txt,json,srt --model "$model"
find "$work/transcripts" -name "*.txt" | sort | while read -r file; do printf "%-48s %s\n" "${file#"$work"/transcripts/}" "$(cat "$file")"; done

echo "== 3. score against the transcripts: greedy, then beam search with the model's character LM"
for beam in 0 32; do
    speech eval "$work/unseen/manifest.jsonl" --model "$model" --beam $beam --worst 2
    speech eval "$work/librivox.jsonl" --model "$model" --beam $beam --worst 2
done

echo "== 4. synthesise a text file with the default voice, then transcribe it back"
cat tools/demo_story.txt
speech synthesize tools/demo_story.txt --lines -o "$work/spoken"
speech eval "$work/spoken/demo_story.jsonl" --beam 32 --worst 2
