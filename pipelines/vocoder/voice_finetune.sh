#!/usr/bin/env bash
# Fine-tune a trained vocoder on what a voice predicts: the voice's teacher-forced log-mel frames of its own
# aligned recordings as input, the recordings as target (Tacotron 2's "ground-truth-aligned" training), so
# that the vocoder learns the smoother frames synthesis hands it, not only frames computed from recordings.
#
#   bash pipelines/vocoder/voice_finetune.sh [--stage N] [--stop-stage M] [--steps 4000] [--config subframe_harmonic]
#       [--init pipelines/vocoder/milestones/harmonic_run2] [--voice speech/assets/voice] [--corpus data/voice_joe]
#       [--data data/vocoder_voice] [--reuse-tracks data/vocoder/pitch.npz] [--mix "data/vocoder/shards/train"]
#
#   1 shards of the corpus's aligned training and validation splits with the voice's frames stored beside the
#     audio (tools/voice_mel_shards.py), in --data, and their pYIN pitch tracks (tools/pitch_tracks.py; those
#     of --reuse-tracks, the vocoder recipe's, are kept where the same recordings have them: '' for none)
#   2 fine-tune from --init at a peak learning rate of 3e-4 (a fresh schedule at the configs' 1e-3 set harmonic
#     run 2 back: validation 0.979 -> 1.037 after 250 steps) (resumes from the newest checkpoint);
#     VOCODER_OVERRIDES adds key=value overrides,
#     e.g. VOCODER_OVERRIDES="train.max_minutes=100"; EXP sets the run folder (exp/vocoder_voice); --mix adds
#     shard folders (space-separated) read together with the voice's, in proportion to their size, e.g. the
#     vocoder recipe's recordings (so that the vocoder keeps hearing recorded frames and the voices the
#     fine-tune would otherwise let go; joe's sentences there come once with each kind of frame); their pitch
#     tracks are added to --data's here, before training (kept where they exist)
#   3 scores of the result: copy synthesis of 20 held-out sentences and TTS output of the voice (CER, DNSMOS)
#
# The corpus must be the one the voice was trained on, aligned: pipelines/voice/run.sh through stage 4 writes
# data/voice_<name>/{train,valid}_aligned.jsonl. The voice's frames for its own training sentences are what it
# learned to predict, so they are a little better than on new text; the held-out scores of stage 3 say how much
# it matters.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/.venv/bin:$PATH"

stage=1 stop_stage=3 steps=4000 config=subframe_harmonic
init=pipelines/vocoder/milestones/harmonic_run2 voice=speech/assets/voice corpus=data/voice_joe
data=data/vocoder_voice reuse_tracks=data/vocoder/pitch.npz mix=''
. pipelines/parse_options.sh
exp=${EXP:-exp/vocoder_voice}
read -ra mix_folders <<< "$mix"  # split on spaces, never globbed

if stage_on 1; then
    for split in valid train; do
        python tools/voice_mel_shards.py $corpus/${split}_aligned.jsonl --voice "$voice" -o $data/shards/$split
    done
    [ -f $data/pitch.npz ] || [ ! -f "$reuse_tracks" ] || cp "$reuse_tracks" $data/pitch.npz
    python tools/pitch_tracks.py $data/shards/train $data/shards/valid -o $data/pitch.npz
fi

if stage_on 2; then
    train=$data/shards/train
    if ((${#mix_folders[@]})); then
        python tools/pitch_tracks.py "${mix_folders[@]}" -o $data/pitch.npz
        quote() { printf "'%s'" "${1//\'/\'\'}"; }  # a YAML single-quoted string: any folder name
        train="[$(quote "$train")"
        for folder in "${mix_folders[@]}"; do train="$train, $(quote "$folder")"; done
        train="$train]"
    fi
    speech train conf/vocoder/$config.yaml data.train="$train" data.valid=$data/shards/valid \
        loss.pitch_tracks=$data/pitch.npz train.init_from="$init" train.out_dir=$exp train.max_steps="$steps" \
        optim.lr=3e-4 optim.warmup_steps=50 ${VOCODER_OVERRIDES:-} --resume
fi

if stage_on 3; then
    mkdir -p $exp/eval
    python tools/bench_vocoder_quality.py $corpus/test.jsonl --count 20 --model $exp/best --systems ours \
        --cer --dnsmos | tee $exp/eval/copy.md
    python pipelines/voice/score.py $corpus/test.jsonl --voice "$voice" --vocoder $exp/best --count 20 \
        -o $exp/eval/tts.json
fi
