#!/usr/bin/env bash
# LibriSpeech recognizer on N GPUs:  bash pipelines/librispeech/run.sh /data/LibriSpeech 8
set -euo pipefail
cd "$(dirname "$0")/../.."
root=${1:?usage: run.sh LIBRISPEECH_DIR [GPUS]}
gpus=${2:-1}
out=data/librispeech
for subset in train-clean-100 train-clean-360 train-other-500 dev-clean test-clean test-other; do
    [ -f $out/$subset.jsonl ] || speech prepare librispeech "$root/$subset" -o $out/$subset.jsonl
done
python - <<'PY'
from speech.data.manifest import read_manifest, write_manifest
parts = ["train-clean-100", "train-clean-360", "train-other-500"]
write_manifest("data/librispeech/train.jsonl", [u for p in parts for u in read_manifest(f"data/librispeech/{p}.jsonl")])
PY
[ -f $out/shards/train/shards.json ] || speech shard $out/train.jsonl -o $out/shards/train
[ -f $out/shards/dev/shards.json ] || speech shard $out/dev-clean.jsonl -o $out/shards/dev
speech train conf/asr/librispeech.yaml data.train=$out/shards/train data.valid=$out/shards/dev \
    train.out_dir=exp/librispeech --nproc "$gpus" --resume
python tools/build_lm.py $out/train.jsonl --order 4 -o exp/librispeech/best/lm.arpa --lexicon exp/librispeech/best/lexicon.txt
for subset in test-clean test-other; do
    speech eval $out/$subset.jsonl --model exp/librispeech/best --device cuda --beam 64 --json exp/librispeech/$subset.json
done
