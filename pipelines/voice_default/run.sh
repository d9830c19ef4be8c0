#!/usr/bin/env bash
# The first default voice: flite's slt (a voice built from the CMU ARCTIC recordings of one American woman),
# made by the generic voice recipe (pipelines/voice/run.sh) with this voice's seed and folders, so that the
# commands in speech/assets/voice/README.md reproduce it:
#
#   bash pipelines/voice_default/run.sh [TTS_STEPS] [VOCODER_STEPS] [VOCODER_CONFIG] [more run.sh options]
#
# TTS_OVERRIDES, VOCODER_OVERRIDES, JOBS, SCORE, SHIP and VOCODER_BESIDE work as pipelines/voice/run.sh says;
# COUNT=200 makes a smaller corpus, for a quick run-through.
set -euo pipefail
exec bash "$(dirname "$0")/../voice/run.sh" --voice flite:slt --seed 7 --exp exp/voice_default \
    --tts-steps "${1:-40000}" --vocoder-steps "${2:-100000}" --vocoder-config "${3:-small}" \
    ${COUNT:+--count "$COUNT"} "${@:4}"
