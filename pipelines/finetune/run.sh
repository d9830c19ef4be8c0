#!/usr/bin/env bash
# A recognizer tuned to your recordings: the shipped recognizer fine-tuned on them (or one trained from
# scratch), its beam search tuned, scored before and after on a held-out part, packaged as a model folder.
#
#   bash pipelines/finetune/run.sh DATA --format folder|kaldi|csv|ljspeech|librispeech|commonvoice|sphinx|manifests
#        [--name NAME] [--init speech/assets/asr] [--from-scratch] [--config conf/asr/finetune.yaml]
#        [--lm shipped|words|chars|none] [--lm-order 3] [--weights best|last] [--stage N] [--stop-stage M]
#        [--smoke] [--nproc N] [--data DIR] [--exp DIR] [--out DIR] [--min-utterances 20] [--seed 0]
#
# DATA is read by `speech prepare`'s importers (a folder of audio files each with a same-name .txt, whose
# folder names are the speakers; a Kaldi data folder; a CSV with audio and text columns, --speaker-column
# for speakers, given as PREPARE_OPTIONS="--speaker-column speaker"; ...). Every clip is decoded, checked
# and rewritten at 16 kHz into --data (default data/finetune_NAME; NAME: --name, else DATA's name); clips
# that cannot be used (no or empty transcript, unreadable audio, under 0.2 s or over 30 s, silent, duplicate
# ids, transcripts that are not UTF-8) are reported one a line, counted by kind and listed in skipped.tsv;
# the run stops only when fewer than --min-utterances are left to train on.
# With three or more speakers known, whole speakers are held out for testing (10% of the utterances), so
# the scores are for voices the model never heard; otherwise 10% of the utterances. 5% of the rest validate.
# --format manifests: DATA already holds train.jsonl, valid.jsonl and test*.jsonl (one or more test sets),
# used as they are (pipelines/fsdd/run.sh makes such a folder).
#
# Stages (--stage/--stop-stage run any range; finished outputs are kept and training resumes from its newest
# checkpoint, so the same command again continues a stopped run):
#   1 import, clean, split        2 shards        3 fine-tune (conf/asr/finetune.yaml: 20 minutes on 2 CPU
#   cores; --from-scratch: conf/asr/small.yaml, no starting weights)
#   4 decoder: the LM beside the weights and beam-search weights tuned on the validation part
#     (--lm shipped: the starting model's character LM; words: a word n-gram and lexicon over the training
#     transcripts, for a closed vocabulary such as digits; chars: a character 6-gram over them; none)
#   5 scores on each test set: the starting model (beam 32 + its LM) and the new one, greedy and beam 32 + LM
#   6 the model folder (--out, default EXP/model) for `speech transcribe --model DIR`, with a model card;
#     the last line of output is its path
#
# --smoke runs every stage with tiny settings (10 fine-tuning steps; conf/asr/tiny.yaml from scratch): a
# minute or two, to check a corpus and the set-up, in folders of their own (NAME_smoke). --nproc N trains
# with N processes (torchrun, one per GPU); on a machine with a GPU, training uses it without any option.
# TRAIN_OVERRIDES adds key=value overrides to training, e.g. TRAIN_OVERRIDES="train.max_minutes=60";
# PREPARE_OPTIONS adds options to the import (--speaker-column NAME, --delimiter tab, --split dev, ...).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/.venv/bin:$PATH"
command=${RECIPE_COMMAND:-"bash pipelines/finetune/run.sh $*"}  # a wrapping recipe (pipelines/fsdd) names itself

smoke=0 scratch=0 args=()
for arg in "$@"; do
    case $arg in
        --smoke) smoke=1 ;;
        --from-scratch) scratch=1 ;;
        *) args+=("$arg") ;;
    esac
done
set -- "${args[@]+"${args[@]}"}"
format= name= init=speech/assets/asr config= lm= lm_order=3 weights=best stage=1 stop_stage=6 data= exp= out=
nproc=1 min_utterances=20 seed=0
. pipelines/parse_options.sh
source_dir=${1:?usage: run.sh DATA --format FORMAT [options] (see --help)}
[ -n "$format" ] || { echo "finetune/run.sh: DATA needs --format (see --help)" >&2; exit 2; }
name=${name:-$(basename "${source_dir%/}")}
[ ! -f "$source_dir" ] || name=${name%.*}  # a CSV file: its name without .csv
suffix=
[ "$smoke" = 0 ] || suffix=_smoke  # a smoke run keeps its own folders: a real run must not resume it
if [ "$format" = manifests ]; then data=${source_dir%/}; else data=${data:-data/finetune_$name$suffix}; fi
exp=${exp:-exp/finetune_$name$suffix}
out=${out:-$exp/model}
model=$exp/$weights

overrides=()
if [ "$scratch" = 1 ]; then
    init=
    config=${config:-conf/asr/small.yaml}
    lm=${lm:-chars}
else
    config=${config:-conf/asr/finetune.yaml}
    overrides+=(train.init_from="$init")
    lm=${lm:-shipped}
fi
if [ "$smoke" = 1 ]; then
    [ "$scratch" = 0 ] || config=conf/asr/tiny.yaml
    overrides+=(train.max_steps=10 train.max_minutes=0 train.valid_every=10 train.checkpoint_every=10
        train.log_every=5 data.batch_seconds=20 data.num_workers=0 data.stats_batches=2 tracking.mode=disabled)
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # a 10-step run only loses time to a second thread
fi
launch=()
[ "$nproc" -le 1 ] || launch=(--nproc "$nproc")
tests() { for file in "$data"/test*.jsonl; do [ -f "$file" ] && basename "$file" .jsonl; done; }

# 1. Import, clean (16 kHz FLAC), split (by speaker where known).
if stage_on 1 && [ "$format" != manifests ] && [ ! -f $data/train.jsonl ]; then
    python pipelines/recipe.py prepare "$source_dir" --format "$format" --out $data --min-seconds 0.2 \
        --max-seconds 30 --min-utterances "$min_utterances" --seed "$seed" ${PREPARE_OPTIONS:-}
fi

# 2. Shards.
if stage_on 2; then
    [ -f $data/shards/train/shards.json ] || speech shard $data/train.jsonl -o $data/shards/train --max-samples 1000
    [ -f $data/shards/valid/shards.json ] || speech shard $data/valid.jsonl -o $data/shards/valid
fi

# 3. Fine-tune (or train from scratch). A run that finished has last/; one that stopped resumes.
if stage_on 3 && [ ! -f $exp/last/model.safetensors ]; then
    speech train $config data.train=$data/shards/train data.valid=$data/shards/valid train.out_dir=$exp \
        "${overrides[@]+"${overrides[@]}"}" ${TRAIN_OVERRIDES:-} --resume "${launch[@]+"${launch[@]}"}"
fi

# 4. The decoder: an LM beside the weights, and beam search's weights tuned on the validation part.
if stage_on 4 && [ "$lm" != none ]; then
    case $lm in
        shipped)
            [ -f "$init/lm.arpa" ] || { echo "finetune/run.sh: $init has no lm.arpa; use --lm chars" >&2; exit 2; }
            cp "$init/lm.arpa" $model/lm.arpa
            [ ! -f "$init/lexicon.txt" ] || cp "$init/lexicon.txt" $model/lexicon.txt ;;
        words) python tools/build_lm.py $data/train.jsonl --order "$lm_order" -o $model/lm.arpa --lexicon $model/lexicon.txt ;;
        chars) python tools/build_lm.py $data/train.jsonl --units chars --order 6 -o $model/lm.arpa ;;
        *) echo "finetune/run.sh: --lm must be shipped, words, chars or none, not $lm" >&2; exit 2 ;;
    esac
    python tools/tune_decoder.py $data/valid.jsonl --model $model
fi

# 5. Held-out scores, before and after (JSON in $exp/eval/TEST/{before,greedy,beam}.json, and printed).
beam=()
[ ! -f $model/lm.arpa ] || beam=(--beam 32)
if stage_on 5; then
    for test in $(tests); do
        mkdir -p $exp/eval/$test
        [ -z "$init" ] || speech eval $data/$test.jsonl --model "$init" --beam 32 --json $exp/eval/$test/before.json --worst 0
        speech eval $data/$test.jsonl --model $model --json $exp/eval/$test/greedy.json --worst 3
        [ ${#beam[@]} = 0 ] || speech eval $data/$test.jsonl --model $model "${beam[@]}" --json $exp/eval/$test/beam.json --worst 3
    done
fi

# 6. The model folder (its path is the last line of output).
if stage_on 6; then
    package=(--model $model --command "$command")
    [ "$format" = manifests ] || package+=(--data $data)
    [ "$smoke" = 0 ] || package+=(--smoke)
    for test in $(tests); do package+=(--eval "$test=$exp/eval/$test"); done
    python pipelines/recipe.py recognizer -o "$out" --name "$name" "${package[@]}"
fi
