#!/usr/bin/env bash
# LibriSpeech recognizer on N GPUs.
#
#   bash pipelines/librispeech/run.sh /data/LibriSpeech [GPUS] [--stage N] [--stop-stage M]
#
# Stages: 1 manifests, 2 shards, 3 train (torchrun over GPUS, resumes), 4 word LM and lexicon, 5 test scores.
set -euo pipefail
cd "$(dirname "$0")/../.."
stage=1 stop_stage=5
. pipelines/parse_options.sh
root=${1:?usage: run.sh LIBRISPEECH_DIR [GPUS]}
gpus=${2:-1}
out=data/librispeech
exp=exp/librispeech
export PATH="$PWD/.venv/bin:$PATH"

if stage_on 1; then
    for subset in train-clean-100 train-clean-360 train-other-500 dev-clean test-clean test-other; do
        [ -f $out/$subset.jsonl ] || speech prepare librispeech "$root/$subset" -o $out/$subset.jsonl
    done
    python - <<'PY'
from speech.data.manifest import read_manifest, write_manifest
parts = ["train-clean-100", "train-clean-360", "train-other-500"]
write_manifest("data/librispeech/train.jsonl", [u for p in parts for u in read_manifest(f"data/librispeech/{p}.jsonl")])
PY
fi
if stage_on 2; then
    [ -f $out/shards/train/shards.json ] || speech shard $out/train.jsonl -o $out/shards/train
    [ -f $out/shards/dev/shards.json ] || speech shard $out/dev-clean.jsonl -o $out/shards/dev
fi
if stage_on 3; then
    speech train conf/asr/librispeech.yaml data.train=$out/shards/train data.valid=$out/shards/dev \
        train.out_dir=$exp --nproc "$gpus" --resume
fi
if stage_on 4; then
    python tools/build_lm.py $out/train.jsonl --order 4 -o $exp/best/lm.arpa --lexicon $exp/best/lexicon.txt
fi
if stage_on 5; then
    for subset in test-clean test-other; do
        speech eval $out/$subset.jsonl --model $exp/best --device cuda --beam 64 --json $exp/$subset.json
    done
fi
