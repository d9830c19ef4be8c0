#!/usr/bin/env bash
# Common Voice recognizer on N GPUs.
#
#   bash pipelines/commonvoice/run.sh /data/cv-corpus-XX/en [GPUS] [--stage N] [--stop-stage M]
#
# Stages: 1 manifests, 2 shards, 3 train (torchrun over GPUS, resumes), 4 word LM and lexicon, 5 test scores.
set -euo pipefail
cd "$(dirname "$0")/../.."
stage=1 stop_stage=5
. pipelines/parse_options.sh
root=${1:?usage: run.sh COMMON_VOICE_LOCALE_DIR [GPUS]}
gpus=${2:-1}
out=data/commonvoice
exp=exp/commonvoice
export PATH="$PWD/.venv/bin:$PATH"

if stage_on 1; then
    for split in train dev test; do
        [ -f $out/$split.jsonl ] || speech prepare commonvoice "$root" --split $split -o $out/$split.jsonl
    done
fi
if stage_on 2; then
    [ -f $out/shards/train/shards.json ] || speech shard $out/train.jsonl -o $out/shards/train
    [ -f $out/shards/dev/shards.json ] || speech shard $out/dev.jsonl -o $out/shards/dev
fi
if stage_on 3; then
    speech train conf/asr/commonvoice.yaml data.train=$out/shards/train data.valid=$out/shards/dev \
        train.out_dir=$exp --nproc "$gpus" --resume
fi
if stage_on 4; then
    python tools/build_lm.py $out/train.jsonl --order 4 -o $exp/best/lm.arpa --lexicon $exp/best/lexicon.txt
fi
if stage_on 5; then
    speech eval $out/test.jsonl --model $exp/best --device cuda --beam 64 --json $exp/test.json
fi
