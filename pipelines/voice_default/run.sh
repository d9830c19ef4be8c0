#!/usr/bin/env bash
# The default voices, made by the generic voice recipe (pipelines/voice/run.sh) with each voice's corpus,
# seed and folders, so that the commands in their model cards reproduce them:
#
#   bash pipelines/voice_default/run.sh [TTS_STEPS] [VOCODER_STEPS] [VOCODER_CONFIG] [more run.sh options]
#
# VOICE=joe (the default voice, shipped in speech/assets/voice): Piper's joe reading every corpus sentence
#   (2,557) with seed 1, the same corpus (data/voice_joe) that pipelines/vocoder/run.sh trains the vocoder
#   on, in exp/voice_default_joe; vocoder config subframe. (Its first 1,500 sentences, COUNT=1500, made the
#   voice's first run; a larger count extends the same corpus.)
# VOICE=slt (the second voice, shipped in speech/assets/voice_slt): flite's slt (a voice built from the CMU
#   ARCTIC recordings of one American woman) reading every corpus sentence, seed 7, in exp/voice_default;
#   vocoder config small.
#
# TTS_OVERRIDES, VOCODER_OVERRIDES, JOBS, SCORE, BENCH, SHIP and VOCODER_BESIDE work as pipelines/voice/run.sh
# says; COUNT=200 makes a smaller corpus, for a quick run-through; --smoke checks every stage in minutes.
set -euo pipefail
smoke=() suffix= args=()  # --smoke, anywhere: a smoke run, kept out of the real run's folder
for arg in "$@"; do
    if [ "$arg" = --smoke ]; then smoke=(--smoke) suffix=_smoke; else args+=("$arg"); fi
done
set -- "${args[@]+"${args[@]}"}"
case ${VOICE:-joe} in
    slt) voice=(--voice flite:slt --seed 7 --exp exp/voice_default$suffix --ship-to speech/assets/voice_slt) vocoder_config=small ;;
    joe) voice=(--voice piper:joe --seed 1 --exp exp/voice_default_joe$suffix) vocoder_config=subframe ;;
    *) echo "voice_default/run.sh: VOICE must be slt or joe, not $VOICE" >&2; exit 2 ;;
esac
exec bash "$(dirname "$0")/../voice/run.sh" "${voice[@]}" \
    --tts-steps "${1:-40000}" --vocoder-steps "${2:-3000}" --vocoder-config "${3:-$vocoder_config}" \
    ${COUNT:+--count "$COUNT"} "${smoke[@]+"${smoke[@]}"}" "${@:4}"
