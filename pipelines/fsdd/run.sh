#!/usr/bin/env bash
# A spoken-digit recognizer for the Free Spoken Digit Dataset: the shipped recognizer fine-tuned on FSDD's
# three training speakers (isolated digits and connected strings made from them) and on synthetic digit
# strings at FSDD's 8 kHz bandwidth, decoded with a digit lexicon and a word 3-gram, tested on the held-out
# fourth speaker (george). An instance of the fine-tuning recipe (pipelines/finetune/run.sh), which does every
# stage after the data; the same steps suit any small vocabulary of your own.
#
#   bash pipelines/fsdd/run.sh ../shared/data/fsdd [INIT_MODEL] [--stage N] [--stop-stage M]
#
# Stages: 1 data (here), then pipelines/finetune/run.sh's 2 shards, 3 fine-tune (conf/asr/fsdd.yaml), 4 lexicon,
# LM and decoder weights, 5 held-out scores (exp/fsdd/eval/test_{isolated,connected}/), 6 the model folder
# exp/fsdd/model with its card. Data stages are skipped when their output exists; training resumes from its
# newest checkpoint. Extra `key=value` overrides for training go in TRAIN_OVERRIDES (e.g.
# "train.max_minutes=10").
set -euo pipefail
cd "$(dirname "$0")/../.."
stage=1 stop_stage=6
. pipelines/parse_options.sh
export RECIPE_COMMAND="bash pipelines/fsdd/run.sh $*"  # the command the model card names
fsdd=${1:?usage: run.sh FSDD_DIR [INIT_MODEL]}
init=${2:-speech/assets/asr}
data=data
export PATH="$PWD/.venv/bin:$PATH"

# 1. Data: FSDD split by speaker (george held out) with connected strings; synthetic digit strings spoken
#    by the synthetic corpus's training voices. The fine-tuning recipe's folder: train = FSDD train +
#    synthetic digits; valid = the training speakers' held-back takes (recognised without error within 250
#    steps, so they cannot pick a checkpoint: the recipe uses the last weights); two test sets on george.
if stage_on 1; then
    [ -f $data/fsdd/train.jsonl ] || python pipelines/fsdd/prepare.py --fsdd "$fsdd" --out $data/fsdd
    [ -f $data/digits/train.jsonl ] || python pipelines/synthetic/digits.py --out $data/digits --count 3000 --seed 2
    python - <<'PY'
from speech.data.manifest import read_manifest, write_manifest
parts = {
    "train": ["data/fsdd/train.jsonl", "data/digits/train.jsonl"],
    "valid": ["data/fsdd/isolated_valid.jsonl"],
    "test_isolated": ["data/fsdd/isolated_test.jsonl"],
    "test_connected": ["data/fsdd/connected_test.jsonl"],
}
for name, manifests in parts.items():
    write_manifest(f"data/fsdd_finetune/{name}.jsonl", [u for m in manifests for u in read_manifest(m)])
PY
fi

[ "$stop_stage" -ge 2 ] || exit 0
bash pipelines/finetune/run.sh $data/fsdd_finetune --format manifests --name fsdd --init "$init" \
    --config conf/asr/fsdd.yaml --lm words --lm-order 3 --weights last --exp exp/fsdd \
    --stage "$((stage > 2 ? stage : 2))" --stop-stage "$stop_stage"
