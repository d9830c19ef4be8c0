#!/usr/bin/env bash
# On a lent GPU machine (the device tool), in one call: make the voice's corpus, train its aligner, continue
# the shipped acoustic model and train the vocoder beside it, then put both models in $OUT to bring back.
# Prepare here first with tools/device/fetch.sh, then call the device with carry [".device"] and
#
#   MINUTES=3 bash tools/device/train_voice.sh
#
# MINUTES (whole minutes) is the acoustic model's training time (train.max_minutes); the vocoder starts
# about 3 minutes sooner (right after the shards, beside the aligner) and trains MINUTES + 3. The whole call
# takes about MINUTES + 5 (packages, corpus, shards, aligner, alignment, GPU benchmark), inside the device
# tool's 10 minutes a call. SETUP=0 skips installing the packages (a warm machine that has them, or a dry
# run on an ordinary set-up machine).
# It also times the trained vocoder's batched GPU generation (tools/bench_vocoder.py --device cuda).
# The voice's weights come back in pieces under 16 MiB (the device tool's limit):
#   cat voice/model.safetensors.part-* > speech/assets/voice/model.safetensors
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:?set OUT to the folder whose files come back}
minutes=${MINUTES:-3}
exp=exp/voice_default

# Our packages into /tmp/site, flite into /tmp/debs, and `speech` / `python` commands on the PATH.
if [ "${SETUP:-1}" = 1 ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .device/wheels/*.whl
    for package in .device/debs/*.deb; do dpkg -x "$package" /tmp/debs; done
fi
mkdir -p /tmp/bin
printf '#!/bin/sh\nexec python3 -m speech "$@"\n' >/tmp/bin/speech
chmod +x /tmp/bin/speech
ln -sf "$(command -v python3)" /tmp/bin/python
export PATH=/tmp/bin:/tmp/debs/usr/bin:$PATH PYTHONPATH=/tmp/site:$PWD WANDB_MODE=disabled
export LD_LIBRARY_PATH=/tmp/debs/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
flite -voice slt -t "ready" -o /tmp/ready.wav

# GPU-sized steps: 10x the CPU batches; each run ends at its time budget with its schedule decayed.
export JOBS=$(nproc) SCORE=0 SHIP=0 VOCODER_BESIDE=1
export ALIGNER_OVERRIDES="train.max_minutes=2 data.num_workers=4"
export TTS_OVERRIDES="train.max_minutes=$minutes data.num_workers=4 train.init_from=speech/assets/voice data.batch_seconds=400 optim.lr=1e-3 \
    optim.warmup_steps=200 train.valid_every=500 train.checkpoint_every=500"
export VOCODER_OVERRIDES="train.max_minutes=$((minutes + 3)) data.num_workers=4 data.batch_seconds=600 optim.lr=2e-3 optim.warmup_steps=300 \
    train.valid_every=1000 train.checkpoint_every=1000"
started=$(date +%s)
bash pipelines/voice_default/run.sh 100000 100000 small 2>&1 | tr '\r' '\n' | grep --line-buffered -v '%|' >"$out/train.log" \
    || echo "the recipe failed: see train.log" >&2
echo "recipe: $(( $(date +%s) - started )) s" | tee -a "$out/train.log"

mkdir -p "$out/voice" "$out/vocoder"
cp $exp/tts/best/config.json "$out/voice/" && split -b 12M $exp/tts/best/model.safetensors "$out/voice/model.safetensors.part-"
cp $exp/vocoder/best/config.json $exp/vocoder/best/model.safetensors "$out/vocoder/"
timeout 60 python3 tools/bench_vocoder.py --device cuda --config --model $exp/vocoder/best --batch 1 64 256 \
    | tee "$out/bench_vocoder_gpu.md" || true
tail -n 30 "$out/train.log"
