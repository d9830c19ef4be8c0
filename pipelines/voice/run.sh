#!/usr/bin/env bash
# A voice from any single-speaker corpus, or from one of the offline synthesisers: corpus, aligner,
# durations, acoustic model, vocoder, scores, and a voice folder with its model card.
#
#   bash pipelines/voice/run.sh DATA --format ljspeech|folder|csv [--name NAME] [--stage N] [--stop-stage M]
#        [--smoke] [--tts-steps 40000] [--vocoder-steps 3000] [--vocoder-config subframe] [--nproc N]
#        [--data DIR] [--exp DIR] [--out DIR] [--min-utterances 20]
#   bash pipelines/voice/run.sh --voice piper:joe [--seed 1] [--count N] [the options above]
#
# DATA: an LJSpeech folder (metadata.csv + wavs/), a folder of audio files each with a same-name .txt, or a
# CSV file with `audio` and `text` columns (paths relative to the CSV; PREPARE_OPTIONS="--text-column
# sentence --delimiter tab" for others). Every clip is decoded, checked and
# rewritten at 16 kHz into --data (default data/voice_NAME; NAME: --name, else DATA's name); clips that
# cannot be used (no or empty transcript, unreadable audio, under 16 kHz, under 0.5 s or over 20 s, silent,
# duplicate ids, transcripts that are not UTF-8) are reported one a line, counted by kind and listed in
# skipped.tsv; the run stops only when fewer than --min-utterances are left to train on. 10% of the
# sentences (2 to 100) are held out for testing and 5% of the rest (2 to 50) for validation.
#
# --voice piper:joe (or flite:slt, espeak:...) makes the corpus instead: the voice reads every sentence of
# tools/corpus_text/sentences.txt once (--count fewer: a prefix of the same seeded order, so a larger count
# extends the corpus) at 16 kHz, as it is (no speed, pitch or level variation); the first 100 utterances are
# held out for testing and the next 50 for validation. This is how the default voice is made.
#
# Stages (icefall's habit: --stage/--stop-stage run any range alone; finished outputs are kept, and training
# resumes from its newest checkpoint, so running the same command again continues a stopped run):
#   1 corpus and split        2 plain shards             3 phoneme aligner      4 durations, aligned shards
#   5 acoustic model          6 vocoder (subframe)       7 scores               8 voice folder
# Stage 8 writes the voice folder (--out, default EXP/voice: the acoustic model, the vocoder in vocoder/, a
# README.md model card) that `speech synthesize --voice DIR` and `speech serve --voice DIR` load; the last
# line of output is its path. With SHIP=1 (the default for --voice, 0 for DATA) it also copies the models
# into speech/assets (the acoustic model into --ship-to, default speech/assets/voice), as the shipped voices
# are made.
#
# --smoke runs every stage with the tiny configs (conf/*/tiny.yaml, 20 steps each) and scores 3 sentences:
# a few minutes, to check a corpus and the set-up before spending hours, in folders of its own (NAME_smoke).
# Its voice folder says it is a smoke run.
# --nproc N trains each model with N processes (torchrun; one per GPU: data.batch_seconds is per GPU); on a
# machine with a GPU, training uses it (bf16) without any option.
#
# Extra `key=value` overrides go in ALIGNER_OVERRIDES, TTS_OVERRIDES and VOCODER_OVERRIDES, e.g. a vocoder
# run that ends before a 3-hour session does (see speech/assets/vocoder/README.md):
#
#   VOCODER_OVERRIDES="train.max_minutes=135" bash pipelines/voice/run.sh --voice piper:joe --seed 1 \
#       --stage 1 --stop-stage 6 --tts-steps 0
#
# JOBS synthesis processes (default 2); VOCODER_BESIDE=1 trains the vocoder at the same time as the aligner
# and the acoustic model (a GPU holds both); SCORE=0 skips stage 7; BENCH=1 adds tools/bench_tts.py's long
# benchmark (paragraphs, speed; needs pocketsphinx and flite) to it.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/.venv/bin:$PATH"
command="bash pipelines/voice/run.sh $*"

smoke=0 args=()
for arg in "$@"; do
    if [ "$arg" = --smoke ]; then smoke=1; else args+=("$arg"); fi
done
set -- "${args[@]+"${args[@]}"}"
voice= format= name= seed=1 count= stage=1 stop_stage=8 tts_steps=40000 vocoder_steps=3000
vocoder_config=subframe data= exp= out= nproc=1 min_utterances=20 ship_to=speech/assets/voice
. pipelines/parse_options.sh
source_dir=${1:-}
if [ -n "$source_dir" ]; then
    [ -z "$voice" ] || { echo "voice/run.sh: give DATA or --voice, not both" >&2; exit 2; }
    [ -n "$format" ] || { echo "voice/run.sh: DATA needs --format ljspeech|folder|csv" >&2; exit 2; }
    name=${name:-$(basename "${source_dir%/}")}
    [ ! -f "$source_dir" ] || name=${name%.*}  # a CSV file: its name without .csv
    ship_default=0
else
    voice=${voice:-piper:joe}
    name=${voice#*:}
    ship_default=1
fi
# A smoke run keeps its own folders: its tiny models and alignments must not be resumed by a real run.
suffix=
[ "$smoke" = 0 ] || suffix=_smoke
data=${data:-data/voice_$name$suffix}
exp=${exp:-exp/voice_$name$suffix}
out=${out:-$exp/voice}

aligner_config=conf/aligner/small.yaml tts_config=conf/tts/small.yaml
vocoder_yaml=conf/vocoder/$vocoder_config.yaml score_count=20
if [ "$smoke" = 1 ]; then
    aligner_config=conf/aligner/tiny.yaml tts_config=conf/tts/tiny.yaml vocoder_yaml=conf/vocoder/subframe_tiny.yaml
    tts_steps=20 vocoder_steps=20 score_count=3
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # tiny models only lose time to a second thread
fi
launch=()
[ "$nproc" -le 1 ] || launch=(--nproc "$nproc")

# 1. Corpus and split.
if stage_on 1; then
    if [ -n "$source_dir" ]; then
        [ -f $data/train.jsonl ] || python pipelines/recipe.py prepare "$source_dir" --format "$format" \
            --out $data --min-rate 16000 --max-seconds 20 --min-utterances "$min_utterances" --seed "$seed" \
            --no-speakers ${PREPARE_OPTIONS:-}
    else
        count=${count:-$(python -c "import sys; sys.path.insert(0, 'tools'); import make_synthetic_corpus as c; print(len(c.load_sentences(c.DEFAULT_SENTENCES)))")}
        python tools/make_synthetic_corpus.py --out $data --voices "$voice" --count "$count" --seed "$seed" \
            --no-variation --jobs "${JOBS:-2}"
        python - "$data" "$voice" "$seed" <<'PY'
import sys
from collections import Counter
from pathlib import Path
from speech.audio import audio_info
from speech.data.clean import Prepared, write_prepared
from speech.data.manifest import read_manifest
data = Path(sys.argv[1])
utterances = list(read_manifest(data / "manifest.jsonl"))  # a seeded shuffle of the sentences
splits = {"train": utterances[150:], "valid": utterances[100:150], "test": utterances[:100]}
rates = Counter(audio_info(u.audio).sample_rate for u in utterances)
rule = "as synthesised (a seeded order): the first 100 for testing, the next 50 for validation"
about = {"source": f"{sys.argv[2]} reading tools/corpus_text/sentences.txt", "format": "synthetic", "seed": int(sys.argv[3])}
write_prepared(Prepared(splits, [], len(utterances), rates, rule), data, about)  # the manifests and corpus.json
PY
    fi
fi

# 2. Plain shards (audio + text) for the aligner and the vocoder.
if stage_on 2; then
    for split in train valid; do
        [ -f $data/shards/$split/shards.json ] || speech shard $data/$split.jsonl -o $data/shards/$split --max-samples 500
    done
fi

train_vocoder() {
    speech train $vocoder_yaml data.train=$data/shards/train data.valid=$data/shards/valid \
        train.out_dir=$exp/vocoder train.max_steps="$vocoder_steps" ${VOCODER_OVERRIDES:-} --resume "${launch[@]}"
}
vocoder_job=
if stage_on 6 && [ "$vocoder_steps" -gt 0 ] && [ "${VOCODER_BESIDE:-0}" = 1 ]; then
    train_vocoder &
    vocoder_job=$!
fi

# 3. The phoneme aligner: BiLSTM-CTC over phonemes on the voice's own recordings.
if stage_on 3 && [ "$tts_steps" -gt 0 ]; then
    speech train $aligner_config data.train=$data/shards/train data.valid=$data/shards/valid \
        train.out_dir=$exp/aligner ${ALIGNER_OVERRIDES:-} --resume "${launch[@]}"
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
    every=$((tts_steps < 250 ? tts_steps : 250))
    speech train $tts_config data.train=$data/shards/train_aligned data.valid=$data/shards/valid_aligned \
        train.out_dir=$exp/tts train.max_steps="$tts_steps" train.valid_every=$every train.checkpoint_every=$every \
        ${TTS_OVERRIDES:-} --resume "${launch[@]}"
fi

# 6. The vocoder, on the same recordings.
if [ -n "$vocoder_job" ]; then
    wait "$vocoder_job"
elif stage_on 6 && [ "$vocoder_steps" -gt 0 ]; then
    train_vocoder
fi

vocoder_best=
[ ! -f $exp/vocoder/best/model.safetensors ] || vocoder_best=$exp/vocoder/best

# 7. Score on the held-out sentences (pipelines/voice/score.py: round-trip CER through our recognizer, DNSMOS,
#    copy synthesis), for the model card; BENCH=1 adds tools/bench_tts.py (ours and pocketsphinx, paragraphs,
#    speed) with the vocoder and with Griffin-Lim. The audio stays in $exp/eval for listening.
if stage_on 7 && [ "${SCORE:-1}" = 1 ] && [ -f $exp/tts/best/model.safetensors ]; then
    python pipelines/voice/score.py $data/test.jsonl --voice $exp/tts/best ${vocoder_best:+--vocoder $vocoder_best} \
        --count "$score_count" -o $exp/eval/scores.json
    if [ "${BENCH:-0}" = 1 ]; then
        for vocoder in $vocoder_best griffin-lim; do
            python tools/bench_tts.py $data/test.jsonl --more-text $data/valid.jsonl --voice $exp/tts/best \
                --vocoder "$vocoder" --work "$exp/eval/$(basename "$vocoder")" | tee "$exp/eval/bench-$(basename "$vocoder").md"
        done
    fi
fi

# 8. The voice folder (its path is the last line of output); SHIP=1 also copies the models into the package.
if stage_on 8; then
    if [ "${SHIP:-$ship_default}" = 1 ] && [ "$smoke" = 1 ]; then
        echo "voice/run.sh: a smoke run's models are not shipped into speech/assets" >&2
    elif [ "${SHIP:-$ship_default}" = 1 ]; then
        for kind in tts:voice vocoder:vocoder; do
            [ -f $exp/${kind%%:*}/best/model.safetensors ] || continue
            target=speech/assets/${kind#*:}
            [ "$kind" != tts:voice ] || target=$ship_to
            mkdir -p $target
            cp $exp/${kind%%:*}/best/model.safetensors $exp/${kind%%:*}/best/config.json $target/
        done
        du -ch $ship_to/* | tail -1 >&2
    fi
    smoke_flag=()
    [ "$smoke" = 0 ] || smoke_flag=(--smoke)
    python pipelines/recipe.py voice -o "$out" --name "$name" --tts $exp/tts/best ${vocoder_best:+--vocoder $vocoder_best} \
        --data $data --scores $exp/eval/scores.json --command "$command" "${smoke_flag[@]+"${smoke_flag[@]}"}"
fi
