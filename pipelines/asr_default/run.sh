#!/usr/bin/env bash
# The shipped recognizer: synthetic multi-voice speech (held-out voices and sentences) + FSDD digits (three
# speakers; the fourth held out) + synthetic digit strings at FSDD's 8 kHz bandwidth, BiLSTM-CTC from
# conf/asr/small.yaml, a character 6-gram LM from the training text.
#
#   bash pipelines/asr_default/run.sh ../shared/data/fsdd [STEPS] [--stage N] [--stop-stage M]
#
# Stages: 1 data, 2 shards, 3 train, 4 LM and decoder weights, 5 held-out scores, 6 ship. Data stages are
# skipped when their output exists, so the script can be re-run after an interruption (training itself
# resumes from its newest checkpoint). Extra `key=value` overrides for training go in TRAIN_OVERRIDES, e.g.
# continuing the shipped model with a fresh schedule (how it was trained further, see
# speech/assets/asr/README.md):
#
#   TRAIN_OVERRIDES="train.init_from=speech/assets/asr optim.lr=1e-3" bash pipelines/asr_default/run.sh FSDD 6000
#
# EXP names the experiment folder (default exp/asr_default) and DATA the data folder (default data);
# SYNTHETIC_OPTIONS go to the synthetic corpus's prepare.py when it is made, e.g. --piper-noise (run 12's
# corpus: each Piper utterance draws its own noise). A corpus already in DATA is reused as it is: give
# another DATA for another corpus.
set -euo pipefail
cd "$(dirname "$0")/../.."
stage=1 stop_stage=6
. pipelines/parse_options.sh
fsdd=${1:?usage: run.sh FSDD_DIR [STEPS]}
steps=${2:-5500}
data=${DATA:-data}
exp=${EXP:-exp/asr_default}
export PATH="$PWD/.venv/bin:$PATH"

# 1. Data: 10,000 training + 600 test utterances of synthetic speech; FSDD split by speaker; 3,000 digit
#    strings spoken by the synthetic training voices at 8 kHz.
if stage_on 1; then
    [ -f $data/synthetic/test.jsonl ] || python pipelines/synthetic/prepare.py --out $data/synthetic --count 10000 --test-count 600 --seed 1 \
        ${SYNTHETIC_OPTIONS:-}
    [ -f $data/fsdd/train.jsonl ] || python pipelines/fsdd/prepare.py --fsdd "$fsdd" --out $data/fsdd
    [ -f $data/digits/train.jsonl ] || python pipelines/synthetic/digits.py --out $data/digits --count 3000 --seed 2
fi

# 2. Shards: training = synthetic train + FSDD train (isolated + connected) + synthetic digits; validation =
#    the first 150 synthetic valid utterances (enough to pick the best checkpoint, cheap enough to score
#    every 500 steps).
if stage_on 2 && [ ! -f $data/shards/asr_train/shards.json ]; then
    python - "$data" <<'PY'
import sys
from pathlib import Path
from speech.data.manifest import read_manifest, write_manifest
data = Path(sys.argv[1])
parts = ("synthetic/train.jsonl", "fsdd/train.jsonl", "digits/train.jsonl")
utterances = [utterance for part in parts for utterance in read_manifest(data / part)]
write_manifest(data / "asr_train.jsonl", utterances)
write_manifest(data / "asr_valid150.jsonl", list(read_manifest(data / "synthetic/valid.jsonl"))[:150])
PY
    speech shard $data/asr_train.jsonl -o $data/shards/asr_train --max-samples 1000
    speech shard $data/asr_valid150.jsonl -o $data/shards/valid150
fi

# 3. Train (resumes if interrupted).
if stage_on 3; then
    speech train conf/asr/small.yaml data.train=$data/shards/asr_train data.valid=$data/shards/valid150 \
        train.out_dir=$exp train.max_steps="$steps" ${TRAIN_OVERRIDES:-} --resume
fi

# 4. A character 6-gram LM from the training text, beside the best model (lexicon-free beam search: open
#    vocabulary, so the held-out sentences' new words can still be recognised), and its weights tuned on
#    validation data (decoder.json).
if stage_on 4; then
    python tools/build_lm.py $data/asr_train.jsonl --units chars --order 6 -o $exp/best/lm.arpa
    python tools/tune_decoder.py $data/asr_valid150.jsonl $data/fsdd/isolated_valid.jsonl --model $exp/best
fi

# 5. Held-out scores (written to $exp/eval/*.json and printed).
if stage_on 5; then
    mkdir -p $exp/eval
    for set in synthetic/test fsdd/isolated_test fsdd/connected_test; do
        name=${set//\//_}
        by_engine=()  # the synthetic voices scored by engine too: espeak, flite, festival
        [ "$set" = synthetic/test ] && by_engine=(--speaker-group '^[^:]+')
        speech eval $data/$set.jsonl --model $exp/best --json $exp/eval/$name-greedy.json --worst 3 "${by_engine[@]}"
        speech eval $data/$set.jsonl --model $exp/best --beam 32 --json $exp/eval/$name-beam.json --worst 3 "${by_engine[@]}"
    done
    speech prepare sphinx /usr/share/pocketsphinx/test/data/librivox -o $data/librivox.jsonl
    speech eval $data/librivox.jsonl --model $exp/best --json $exp/eval/librivox-greedy.json --worst 5
    speech eval $data/librivox.jsonl --model $exp/best --beam 32 --json $exp/eval/librivox-beam.json --worst 5
fi

# 6. Ship: the best model, its LM and decoder weights into the package (the model card is written from $exp/eval).
if stage_on 6; then
    ship=speech/assets/asr
    mkdir -p $ship
    cp $exp/best/model.safetensors $exp/best/config.json $exp/best/lm.arpa $exp/best/decoder.json $ship/
    du -ch $ship/* | tail -1
fi
