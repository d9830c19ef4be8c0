#!/usr/bin/env bash
# The default voice: flite's slt (a voice built from the CMU ARCTIC recordings of one American woman), every
# sentence of tools/corpus_text/sentences.txt once (2,557; about 2.5 h) at 16 kHz, the vocoder's rate. 100
# sentences are held out for evaluation and 50 for validation.
#
#   bash pipelines/voice_default/run.sh [TTS_STEPS] [VOCODER_STEPS] [VOCODER_CONFIG]
#
# Stages are skipped when their output exists, so the script can be re-run after an interruption (training
# resumes from its newest checkpoint). Extra `key=value` overrides for the acoustic model and the vocoder go
# in TTS_OVERRIDES and VOCODER_OVERRIDES, e.g. the shipped CPU run (see speech/assets/voice/MODEL_CARD.md):
#
#   TTS_OVERRIDES="data.batch_seconds=50 optim.warmup_steps=300" bash pipelines/voice_default/run.sh 4400 0
#
# On a GPU machine (tools/device/train_voice.sh does this on a lent one): JOBS synthesis processes,
# ALIGNER_OVERRIDES for the aligner, VOCODER_BESIDE=1 trains the vocoder at the same time as the aligner and
# the acoustic model (one GPU holds both), SCORE=0 skips stage 7 (scoring needs pocketsphinx; run it later),
# SHIP=0 leaves the package's models alone. COUNT=200 makes a smaller corpus, for a quick run-through.
set -euo pipefail
cd "$(dirname "$0")/../.."
tts_steps=${1:-40000}
vocoder_steps=${2:-100000}
vocoder_config=${3:-small}
data=data/voice_slt
exp=exp/voice_default
export PATH="$PWD/.venv/bin:$PATH"

# 1. Corpus: flite slt as it is (no random speed, pitch or level), one utterance per sentence; split.
count=${COUNT:-$(python -c "import sys; sys.path.insert(0, 'tools'); import make_synthetic_corpus as c; print(len(c.load_sentences(c.DEFAULT_SENTENCES)))")}
[ -f $data/manifest.jsonl ] || python tools/make_synthetic_corpus.py --out $data --voices flite:slt \
    --count "$count" --seed 7 --no-variation --jobs "${JOBS:-2}"
if [ ! -f $data/test.jsonl ]; then
    python - "$data" <<'PY'
import sys
from pathlib import Path
from speech.data.manifest import read_manifest, write_manifest
data = Path(sys.argv[1])
utterances = list(read_manifest(data / "manifest.jsonl"))  # a seeded shuffle of the sentences
write_manifest(data / "test.jsonl", utterances[:100])
write_manifest(data / "valid.jsonl", utterances[100:150])
write_manifest(data / "train.jsonl", utterances[150:])
PY
fi

# 2. Plain shards (audio + text) for the aligner and the vocoder.
for split in train valid; do
    [ -f $data/shards/$split/shards.json ] || speech shard $data/$split.jsonl -o $data/shards/$split --max-samples 500
done

train_vocoder() {
    speech train conf/vocoder/$vocoder_config.yaml data.train=$data/shards/train data.valid=$data/shards/valid \
        train.out_dir=$exp/vocoder train.max_steps="$vocoder_steps" ${VOCODER_OVERRIDES:-} --resume
}
vocoder_job=
if [ "$vocoder_steps" -gt 0 ] && [ "${VOCODER_BESIDE:-0}" = 1 ]; then
    train_vocoder &
    vocoder_job=$!
fi

# 3. The phoneme aligner: BiLSTM-CTC over phonemes on the voice's own recordings.
speech train conf/aligner/small.yaml data.train=$data/shards/train data.valid=$data/shards/valid \
    train.out_dir=$exp/aligner ${ALIGNER_OVERRIDES:-} --resume

# 4. Phoneme durations by forced alignment, then shards that carry them.
for split in train valid test; do
    [ -f $data/${split}_aligned.jsonl ] || speech align $data/$split.jsonl --model $exp/aligner/best -o $data/${split}_aligned.jsonl
done
for split in train valid; do
    [ -f $data/shards/${split}_aligned/shards.json ] || \
        speech shard $data/${split}_aligned.jsonl -o $data/shards/${split}_aligned --max-samples 500
done

# 5. The acoustic model.
speech train conf/tts/small.yaml data.train=$data/shards/train_aligned data.valid=$data/shards/valid_aligned \
    train.out_dir=$exp/tts train.max_steps="$tts_steps" train.valid_every=250 train.checkpoint_every=250 \
    ${TTS_OVERRIDES:-} --resume

# 6. The vocoder, on the same recordings (VOCODER_STEPS=0: none, the voice is heard through Griffin-Lim).
if [ -n "$vocoder_job" ]; then
    wait "$vocoder_job"
elif [ "$vocoder_steps" -gt 0 ]; then
    train_vocoder
fi

# 7. Score: round-trip intelligibility of the 100 held-out sentences (ours and pocketsphinx, next to the
#    same recognizers on flite's own audio), lost/repeated words on 20 long paragraphs (test and validation
#    sentences), speed; with the vocoder and with Griffin-Lim. The audio stays in $exp/eval for listening.
mkdir -p $exp/eval
[ "${SCORE:-1}" = 0 ] || for vocoder in $exp/vocoder/best griffin-lim; do
    [ "$vocoder" = griffin-lim ] || [ "$vocoder_steps" -gt 0 ] || continue
    python tools/bench_tts.py $data/test.jsonl --more-text $data/valid.jsonl --voice $exp/tts/best \
        --vocoder "$vocoder" --work "$exp/eval/$(basename "$vocoder")" | tee "$exp/eval/bench-$(basename "$vocoder").md"
done

# 8. Ship the voice (and the vocoder) in the package: speech synthesize's defaults (SHIP=0: leave them).
[ "${SHIP:-1}" = 1 ] || exit 0
mkdir -p speech/assets/voice
cp $exp/tts/best/model.safetensors $exp/tts/best/config.json speech/assets/voice/
if [ "$vocoder_steps" -gt 0 ]; then
    mkdir -p speech/assets/vocoder
    cp $exp/vocoder/best/model.safetensors $exp/vocoder/best/config.json speech/assets/vocoder/
fi
du -ch speech/assets/voice/* | tail -1
