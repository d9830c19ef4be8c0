#!/usr/bin/env bash
# A spoken-digit recognizer for the Free Spoken Digit Dataset: the shipped recognizer fine-tuned on FSDD's
# three training speakers (isolated digits and connected strings made from them) and on synthetic digit
# strings at FSDD's 8 kHz bandwidth, decoded with a digit lexicon and a word 3-gram, tested on the held-out
# fourth speaker (george). How to adapt the default model to a small vocabulary of your own.
#
#   bash pipelines/fsdd/run.sh ../shared/data/fsdd [INIT_MODEL] [--stage N] [--stop-stage M]
#
# Stages: 1 data, 2 shards, 3 fine-tune, 4 lexicon, LM and decoder weights, 5 held-out scores. Data stages
# are skipped when their output exists; training resumes from its newest checkpoint. Extra
# `key=value` overrides for training go in TRAIN_OVERRIDES (e.g. "train.max_minutes=10").
set -euo pipefail
cd "$(dirname "$0")/../.."
stage=1 stop_stage=5
. pipelines/parse_options.sh
fsdd=${1:?usage: run.sh FSDD_DIR [INIT_MODEL]}
init=${2:-speech/assets/asr}
data=data
exp=exp/fsdd
export PATH="$PWD/.venv/bin:$PATH"

# 1. Data: FSDD split by speaker (george held out) with connected strings; synthetic digit strings spoken
#    by the synthetic corpus's training voices.
if stage_on 1; then
    [ -f $data/fsdd/train.jsonl ] || python pipelines/fsdd/prepare.py --fsdd "$fsdd" --out $data/fsdd
    [ -f $data/digits/train.jsonl ] || python pipelines/synthetic/digits.py --out $data/digits --count 3000 --seed 2
fi

# 2. Shards: training = FSDD train + synthetic digits; validation = the training speakers' held-back takes.
if stage_on 2 && [ ! -f $data/shards/fsdd_train/shards.json ]; then
    speech shard $data/fsdd/train.jsonl $data/digits/train.jsonl -o $data/shards/fsdd_train --max-samples 1000
    speech shard $data/fsdd/isolated_valid.jsonl -o $data/shards/fsdd_valid
fi

# 3. Fine-tune (conf/asr/fsdd.yaml: 20 minutes on 2 CPU cores). The training speakers' held-back takes are
#    recognised perfectly within 250 steps, so they cannot pick a checkpoint: the recipe uses the last weights.
if stage_on 3 && [ ! -f $exp/last/model.safetensors ]; then
    speech train conf/asr/fsdd.yaml data.train=$data/shards/fsdd_train data.valid=$data/shards/fsdd_valid \
        train.out_dir=$exp train.init_from="$init" ${TRAIN_OVERRIDES:-} --resume
fi

# 4. A closed vocabulary: the ten digit words (lexicon) and a word 3-gram over the training transcripts,
#    beside the last weights, with the beam search's weights tuned on the validation takes.
if stage_on 4; then
    python tools/build_lm.py $data/fsdd/train.jsonl $data/digits/train.jsonl --order 3 -o $exp/last/lm.arpa --lexicon $exp/last/lexicon.txt
    python tools/tune_decoder.py $data/fsdd/isolated_valid.jsonl --model $exp/last
fi

# 5. Held-out speaker, greedy and with the lexicon (written to $exp/eval/*.json and printed); the starting
#    model, lexicon-free, for comparison.
if stage_on 5; then
    mkdir -p $exp/eval
    for set in isolated_test connected_test; do
        speech eval $data/fsdd/$set.jsonl --model "$init" --beam 32 --json $exp/eval/$set-init.json --worst 0
        speech eval $data/fsdd/$set.jsonl --model $exp/last --json $exp/eval/$set-greedy.json --worst 3
        speech eval $data/fsdd/$set.jsonl --model $exp/last --beam 32 --json $exp/eval/$set-beam.json --worst 3
    done
fi
