#!/usr/bin/env bash
# The shipped vocoder: the subframe vocoder (conf/vocoder/subframe.yaml; --config lpc for the sample-rate LPC
# design it replaced) on two voices, Piper's joe (a man, neural, the default voice) and flite's slt (a woman,
# the second voice), so that it vocodes both voices' predicted mels and has heard more than one pitch range.
#
#   bash pipelines/vocoder/run.sh [--stage N] [--stop-stage M] [--steps 3000] [--config subframe]
#
#   1 corpora: pipelines/voice/run.sh stage 1 for each voice (joe: seed 1, all 2,557 sentences, the default
#     voice's corpus; slt: seed 7, 1,000), each with 100 test and 50 validation sentences held out (the
#     subframe runs so far trained on joe's first 1,500: JOE_COUNT=1500 remakes that corpus)
#   2 shards of both voices' training and validation splits, and their pYIN pitch tracks (tools/pitch_tracks.py)
#   3 train (resumes from the newest checkpoint); VOCODER_OVERRIDES adds key=value overrides, e.g.
#     VOCODER_OVERRIDES="train.max_minutes=90" for a run that ends inside a 3-hour session, or
#     "train.init_from=speech/assets/vocoder" to continue from the shipped weights in a new folder
#   4 scores: copy synthesis of 20 held-out sentences of each voice and of Debian's librivox files, next to
#     Griffin-Lim (tools/bench_vocoder_quality.py)
#   5 ship into speech/assets/vocoder (SHIP=0: leave it)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/.venv/bin:$PATH"

stage=1 stop_stage=5 steps=3000 config=subframe
. pipelines/parse_options.sh
data=data/vocoder
exp=${EXP:-exp/vocoder_$config}
voices=(joe slt)

if stage_on 1; then
    bash pipelines/voice/run.sh --voice piper:joe --seed 1 ${JOE_COUNT:+--count "$JOE_COUNT"} --stage 1 --stop-stage 1
    bash pipelines/voice/run.sh --voice flite:slt --seed 7 --count 1000 --stage 1 --stop-stage 1
fi

if stage_on 2; then
    for split in train valid; do
        manifests=()
        for voice in "${voices[@]}"; do manifests+=(data/voice_$voice/$split.jsonl); done
        [ -f $data/shards/$split/shards.json ] || { speech shard "${manifests[@]}" -o $data/shards/$split \
            --max-samples 500 && rm -f $data/pitch.done; }
    done
    # pYIN pitch tracks of every utterance (~20 minutes on one core; resumes, re-measures remade audio), the
    # harmonic subframe vocoder's F0 reference (its F0 head's targets, training lags and harmonic source).
    [ -f $data/pitch.done ] || { python tools/pitch_tracks.py $data/shards/train $data/shards/valid \
        -o $data/pitch.npz && touch $data/pitch.done; }
fi

if stage_on 3; then
    tracks=()  # the harmonic configs train on pYIN tracks; the others keep per-batch YIN, as they were run
    if [[ $config == subframe_harmonic* ]]; then tracks=(loss.pitch_tracks=$data/pitch.npz); fi
    speech train conf/vocoder/$config.yaml data.train=$data/shards/train data.valid=$data/shards/valid \
        train.out_dir=$exp train.max_steps="$steps" ${tracks[@]+"${tracks[@]}"} ${VOCODER_OVERRIDES:-} --resume
fi

if stage_on 4; then
    mkdir -p $exp/eval
    for voice in "${voices[@]}"; do
        python tools/bench_vocoder_quality.py data/voice_$voice/test.jsonl --count 20 --model $exp/best \
            --systems ours,griffin-lim --cer | tee $exp/eval/copy-$voice.md
    done
    python - <<'PY'
from pathlib import Path
from speech.data.importers import import_sphinx
from speech.data.manifest import write_manifest
write_manifest(Path("data/vocoder/librivox.jsonl"), import_sphinx(Path("/usr/share/pocketsphinx/test/data/librivox")).utterances)
PY
    python tools/bench_vocoder_quality.py $data/librivox.jsonl --model $exp/best --systems ours,griffin-lim \
        --cer | tee $exp/eval/copy-librivox.md
fi

if stage_on 5 && [ "${SHIP:-1}" = 1 ]; then
    mkdir -p speech/assets/vocoder
    cp $exp/best/model.safetensors $exp/best/config.json speech/assets/vocoder/
fi
