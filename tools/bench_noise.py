#!/usr/bin/env python
"""Benchmark: how a recognizer holds up in noise and on another channel. Held-out utterances get white noise at
fixed signal-to-noise ratios, or a fixed spectral tilt, and are transcribed greedily and with beam search;
CER and WER per condition, clean first.

    python tools/bench_noise.py data/synthetic/test.jsonl --speaker flite:slt --count 20 \
        --model exp/asr_default_run4/best --model speech/assets/asr
    python tools/bench_noise.py data/synthetic/test.jsonl --speaker flite:slt --count 20 --snr '' --tilt=-6,6

Why white noise at a set SNR: it is the simplest noise to reproduce anywhere (seeded), and the SNR is relative
to each utterance's own level, so loud and quiet recordings are equally hard (speech.data.corruption.add_noise, the
same mixing the training noise uses, here with a flat spectrum). The tilt, in dB per octave about 1 kHz, stands
for another microphone (speech.data.corruption.tilt_spectrum). Prints Markdown rows for the recognizer's model
card.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from speech.assets import ASR_MODEL  # noqa: E402
from speech.audio import read_audio  # noqa: E402
from speech.data.corruption import add_noise, tilt_spectrum  # noqa: E402
from speech.data.manifest import read_manifest  # noqa: E402
from speech.recognizer import Recognizer  # noqa: E402
from speech.scoring import error_rates  # noqa: E402
from speech.text.normalize import normalize_text  # noqa: E402

RATE = 16000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("manifest", help="held-out utterances (JSONL manifest with transcripts)")
    parser.add_argument("--speaker", help="only this speaker's utterances (e.g. flite:slt)")
    parser.add_argument("--count", type=int, default=20, help="utterances to use (default 20)")
    parser.add_argument(
        "--snr", default="30,20,10", help="comma-separated SNRs in dB, '' for none (default 30,20,10)"
    )
    parser.add_argument(
        "--tilt",
        default="",
        help="comma-separated spectral tilts in dB per octave, e.g. --tilt=-6,6 (default none)",
    )
    parser.add_argument(
        "--model",
        action="append",
        help="recognizer folder; repeat to compare (default: the shipped model)",
    )
    parser.add_argument("--beam", type=int, default=32, help="beam size for the second decoding (default 32)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    args = parser.parse_args()

    utterances = [
        u for u in read_manifest(args.manifest) if args.speaker is None or u.speaker == args.speaker
    ][: args.count]
    if not utterances:
        parser.error(
            f"{args.manifest}: no utterances" + (f" of speaker {args.speaker}" if args.speaker else "")
        )
    references = [normalize_text(u.text) for u in utterances]
    clean = [read_audio(u.audio, RATE)[0] for u in utterances]
    snrs = [float(snr) for snr in args.snr.split(",") if snr]
    tilts = [float(tilt) for tilt in args.tilt.split(",") if tilt]
    rng = np.random.default_rng(args.seed)
    conditions = (
        {"clean": clean}
        | {f"{snr:g} dB": [add_noise(samples, snr, 0.0, rng) for samples in clean] for snr in snrs}
        | {f"tilt {tilt:+g} dB/oct": [tilt_spectrum(samples, tilt) for samples in clean] for tilt in tilts}
    )

    print(
        f"{len(utterances)} utterances from {args.manifest}"
        + (f", speaker {args.speaker}" if args.speaker else "")
    )
    print("| model | decoding | " + " | ".join(f"{name} CER / WER" for name in conditions) + " |")
    print("|---|---|" + "---|" * len(conditions))
    for model in args.model or [str(ASR_MODEL)]:
        for beam in (0, args.beam):
            recognizer = Recognizer.load(model, beam=beam)
            cells = []
            for audio in conditions.values():
                results = recognizer.transcribe([(samples, RATE) for samples in audio])
                scores = error_rates(references, [result.transcript.text for result in results])
                cells.append(f"{scores['cer']:.1%} / {scores['wer']:.1%}")
            decoding = f"beam {beam} + LM" if beam else "greedy"
            print(f"| {model} | {decoding} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
