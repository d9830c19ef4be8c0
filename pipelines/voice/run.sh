#!/usr/bin/env bash
# A voice from one of the offline synthesisers: corpus, aligner, durations, acoustic model, vocoder, scores.
#
#   bash pipelines/voice/run.sh [--voice piper:joe] [--seed 1] [--count N] [--stage N] [--stop-stage M]
#        [--tts-steps 40000] [--vocoder-steps 100000] [--vocoder-config lpc] [--exp DIR]
#
# The voice reads every sentence of tools/corpus_text/sentences.txt once (--count fewer: a prefix of the
# same seeded order, so a larger count extends the corpus) at 16 kHz, as it is (no speed, pitch or level
# variation). The first 100 utterances are held out for testing and the next 50 for validation.
#
# Stages (icefall's habit: --stage/--stop-stage run any range alone; finished outputs are kept, and training
# resumes from its newest checkpoint):
#   1 corpus and split        2 plain shards             3 phoneme aligner      4 durations, aligned shards
#   5 acoustic model          6 vocoder                  7 scores               8 ship into speech/assets
# Extra `key=value` overrides go in ALIGNER_OVERRIDES, TTS_OVERRIDES and VOCODER_OVERRIDES, e.g. a vocoder
# run that ends before a 3-hour session does (see speech/assets/vocoder/README.md):
#
#   VOCODER_OVERRIDES="train.max_minutes=135" bash pipelines/voice/run.sh --voice piper:joe --seed 1 \
#       --count 1500 --stage 1 --stop-stage 6 --tts-steps 0
#
# JOBS synthesis processes (default 2); VOCODER_BESIDE=1 trains the vocoder at the same time as the aligner
# and the acoustic model (a GPU holds both); SCORE=0 skips stage 7 (it needs pocketsphinx), SHIP=0 stage 8.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/.venv/bin:$PATH"

voice=piper:joe seed=1 count= stage=1 stop_stage=8 tts_steps=40000 vocoder_steps=100000
vocoder_config=lpc exp=
. pipelines/parse_options.sh
name=${voice#*:}
data=data/voice_$name
exp=${exp:-exp/voice_$name}

# 1. Corpus and split.
if stage_on 1; then
    count=${count:-$(python -c "import sys; sys.path.insert(0, 'tools'); import make_synthetic_corpus as c; print(len(c.load_sentences(c.DEFAULT_SENTENCES)))")}
    python tools/make_synthetic_corpus.py --out $data --voices "$voice" --count "$count" --seed "$seed" \
        --no-variation --jobs "${JOBS:-2}"
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
if stage_on 2; then
    for split in train valid; do
        [ -f $data/shards/$split/shards.json ] || speech shard $data/$split.jsonl -o $data/shards/$split --max-samples 500
    done
fi

train_vocoder() {
    speech train conf/vocoder/$vocoder_config.yaml data.train=$data/shards/train data.valid=$data/shards/valid \
        train.out_dir=$exp/vocoder train.max_steps="$vocoder_steps" ${VOCODER_OVERRIDES:-} --resume
}
vocoder_job=
if stage_on 6 && [ "$vocoder_steps" -gt 0 ] && [ "${VOCODER_BESIDE:-0}" = 1 ]; then
    train_vocoder &
    vocoder_job=$!
fi

# 3. The phoneme aligner: BiLSTM-CTC over phonemes on the voice's own recordings.
if stage_on 3 && [ "$tts_steps" -gt 0 ]; then
    speech train conf/aligner/small.yaml data.train=$data/shards/train data.valid=$data/shards/valid \
        train.out_dir=$exp/aligner ${ALIGNER_OVERRIDES:-} --resume
fi

# 4. Phoneme durations by forced alignment, then shards that carry them.
if stage_on 4 && [ "$tts_steps" -gt 0 ]; then
    for split in train valid test; do
        [ -f $data/${split}_aligned.jsonl ] || speech align $data/$split.jsonl --model $exp/aligner/best -o $data/${split}_aligned.jsonl
    done
    for split in train valid; do
        [ -f $data/shards/${split}_aligned/shards.json ] || \
            speech shard $data/${split}_aligned.jsonl -o $data/shards/${split}_aligned --max-samples 500
    done
fi

# 5. The acoustic model.
if stage_on 5 && [ "$tts_steps" -gt 0 ]; then
    speech train conf/tts/small.yaml data.train=$data/shards/train_aligned data.valid=$data/shards/valid_aligned \
        train.out_dir=$exp/tts train.max_steps="$tts_steps" train.valid_every=250 train.checkpoint_every=250 \
        ${TTS_OVERRIDES:-} --resume
fi

# 6. The vocoder, on the same recordings.
if [ -n "$vocoder_job" ]; then
    wait "$vocoder_job"
elif stage_on 6 && [ "$vocoder_steps" -gt 0 ]; then
    train_vocoder
fi

# 7. Score: round-trip intelligibility of the 100 held-out sentences (ours and pocketsphinx, next to the
#    same recognizers on the voice's own audio), lost/repeated words on 20 long paragraphs, speed; with the
#    vocoder and with Griffin-Lim. The audio stays in $exp/eval for listening.
if stage_on 7 && [ "${SCORE:-1}" = 1 ]; then
    mkdir -p $exp/eval
    for vocoder in $exp/vocoder/best griffin-lim; do
        [ "$vocoder" = griffin-lim ] || [ -d "$vocoder" ] || continue
        python tools/bench_tts.py $data/test.jsonl --more-text $data/valid.jsonl --voice $exp/tts/best \
            --vocoder "$vocoder" --work "$exp/eval/$(basename "$vocoder")" | tee "$exp/eval/bench-$(basename "$vocoder").md"
    done
fi

# 8. Ship the voice and the vocoder in the package (SHIP=0: leave the package's models alone).
if stage_on 8 && [ "${SHIP:-1}" = 1 ]; then
    for kind in tts:voice vocoder:vocoder; do
        [ -f $exp/${kind%%:*}/best/model.safetensors ] || continue
        mkdir -p speech/assets/${kind#*:}
        cp $exp/${kind%%:*}/best/model.safetensors $exp/${kind%%:*}/best/config.json speech/assets/${kind#*:}/
    done
    du -ch speech/assets/voice/* | tail -1
fi
