#!/usr/bin/env bash
# Common Voice recognizer on N GPUs:  bash pipelines/commonvoice/run.sh /data/cv-corpus-XX/en 8
set -euo pipefail
cd "$(dirname "$0")/../.."
root=${1:?usage: run.sh COMMON_VOICE_LOCALE_DIR [GPUS]}
gpus=${2:-1}
out=data/commonvoice
for split in train dev test; do
    [ -f $out/$split.jsonl ] || speech prepare commonvoice "$root" --split $split -o $out/$split.jsonl
done
[ -f $out/shards/train/shards.json ] || speech shard $out/train.jsonl -o $out/shards/train
[ -f $out/shards/dev/shards.json ] || speech shard $out/dev.jsonl -o $out/shards/dev
speech train conf/asr/commonvoice.yaml data.train=$out/shards/train data.valid=$out/shards/dev \
    train.out_dir=exp/commonvoice --nproc "$gpus" --resume
python tools/build_lm.py $out/train.jsonl --order 4 -o exp/commonvoice/best/lm.arpa --lexicon exp/commonvoice/best/lexicon.txt
speech eval $out/test.jsonl --model exp/commonvoice/best --device cuda --beam 64 --json exp/commonvoice/test.json
