#!/usr/bin/env python
"""Benchmark: copy-synthesis quality of our vocoder next to Griffin-Lim and WORLD, on the same held-out audio.

    python tools/bench_vocoder_quality.py MANIFEST [--count 20] [--model VOCODER_DIR] [--samples docs/samples]
        [--systems ours,griffin-lim,world] [--refine -1,0,8] [--cer] [--dnsmos]

Every system resynthesises each original 16 kHz recording: ours and Griffin-Lim from the log-mel frames the
acoustic model would predict (speech.features, 80 mels, 10 ms hop); WORLD (PyPI pyworld: harvest F0,
CheapTrick envelope, D4C aperiodicity) from its own analysis of the waveform, i.e. with far more information
than a mel. ``--refine`` scores our subframe vocoder at several settings of its mel-consistency step (-1: the
network's raw output; N: matched to the mel, then N Griffin-Lim iterations). Scores against the original,
averaged over files:

* MCD: mel-cepstral distortion in dB over c1..c24 of the log-amplitude spectral envelope (WORLD CheapTrick,
  mel-coded), frame by frame over the reference's speech frames (copy synthesis is time-aligned; lower is
  better);
* PESQ wide-band (ITU-T P.862.2, PyPI pesq; 1 to 4.5, higher is better);
* STOI (PyPI pystoi; 0 to 1, higher is better);
* with ``--cer``, intelligibility: the character error rate of the shipped recognizer (greedy) on each
  system's output against the manifest's text, beside its CER on the originals;
* with ``--dnsmos``, how natural each system's output sounds without a reference: DNSMOS OVRL
  (tools/dnsmos.py), beside the originals'.

Prints Markdown rows for docs/benchmarks.md; with --samples, writes the first file's versions as WAVs.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from machine import describe_machine  # noqa: E402

from speech.audio import fit_length, read_audio, write_audio  # noqa: E402
from speech.data.manifest import read_manifest  # noqa: E402
from speech.features import FeatureConfig, FeatureExtractor  # noqa: E402
from speech.vocoder.consistency import refine_option  # noqa: E402
from speech.vocoder.griffin_lim import GriffinLim  # noqa: E402

RATE = 16000
CEPSTRA = 24


def envelope_cepstra(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frames, 24) mel-cepstra c1..c24 of the log-amplitude spectral envelope (WORLD CheapTrick, 5 ms frames,
    coded on a mel scale by pyworld) and each frame's log energy. The envelope, not the spectrum: harmonic
    fine structure would make the distance depend on F0 estimates rather than on timbre."""
    import pyworld

    x = samples.astype(np.float64)
    f0, times = pyworld.harvest(x, RATE, frame_period=5.0)
    envelope = pyworld.cheaptrick(x, f0, times, RATE)
    coded = pyworld.code_spectral_envelope(envelope, RATE, CEPSTRA + 1) / 2  # log power -> log amplitude
    return coded[:, 1:], np.log(envelope.sum(axis=1) + 1e-12)


def mcd(reference: np.ndarray, test: np.ndarray) -> float:
    """Frame by frame (copy synthesis is time-aligned) over the reference's speech frames, those within
    40 dB of its loudest: silence (often digital zeros in synthetic speech) has no timbre to match."""
    a, energy = envelope_cepstra(reference)
    b, _ = envelope_cepstra(test)
    frames = min(len(a), len(b))
    speech = energy[:frames] > energy.max() - 40 * math.log(10) / 10
    difference = a[:frames][speech] - b[:frames][speech]
    return float(np.mean(10 / math.log(10) * np.sqrt(2 * np.sum(difference**2, axis=1))))


def world(samples: np.ndarray) -> np.ndarray:
    import pyworld

    x = samples.astype(np.float64)
    f0, times = pyworld.harvest(x, RATE, frame_period=5.0)
    envelope = pyworld.cheaptrick(x, f0, times, RATE)
    aperiodicity = pyworld.d4c(x, f0, times, RATE)
    return pyworld.synthesize(f0, envelope, aperiodicity, RATE, frame_period=5.0)[: len(x)].astype(np.float32)


def scores(reference: np.ndarray, test: np.ndarray) -> dict[str, float]:
    from pesq import pesq
    from pystoi import stoi

    test = fit_length(test, len(reference))
    return {
        "mcd": mcd(reference, test),
        "pesq": float(pesq(RATE, reference, test, "wb")),
        "stoi": float(stoi(reference, test, RATE, extended=False)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("manifest", help="held-out utterances (JSONL manifest)")
    parser.add_argument("--count", type=int, default=20, help="files to score (default 20)")
    parser.add_argument("--model", help="our vocoder folder (default: only the reference systems)")
    parser.add_argument("--griffin-lim-iterations", type=int, default=64, help="(default 64)")
    parser.add_argument("--samples", type=Path, help="write the first file's versions here as WAVs")
    parser.add_argument(
        "--systems", default="ours,griffin-lim,world", help="comma list of ours, griffin-lim, world"
    )
    parser.add_argument(
        "--refine",
        default="",
        help="comma list of our subframe vocoder's refine settings to score, -1 for its raw output "
        "(default: its own default only)",
    )
    parser.add_argument("--cer", action="store_true", help="also the recognizer's CER on every output")
    parser.add_argument("--dnsmos", action="store_true", help="also DNSMOS OVRL of every output")
    args = parser.parse_args()
    wanted = set(args.systems.split(","))

    features = FeatureConfig()
    extractor = FeatureExtractor(features)
    systems = {}
    if args.model and "ours" in wanted:
        from speech.vocoder import load_vocoder

        vocoder = load_vocoder(args.model)
        if not args.refine:
            systems["ours (from the mel)"] = lambda x: vocoder.copy_synthesis(x)[0]
        for refine in (int(value) for value in args.refine.split(",") if value):
            setting = "raw network output" if refine < 0 else f"refine {refine}"
            options = {"refine": refine_option(refine)}
            systems[f"ours (from the mel, {setting})"] = lambda x, options=options: vocoder.copy_synthesis(
                x, **options
            )[0]
    if "griffin-lim" in wanted:
        systems[f"Griffin-Lim ({args.griffin_lim_iterations} iterations, from the mel)"] = lambda x: (
            GriffinLim(features, args.griffin_lim_iterations).vocode(extractor(torch.as_tensor(x)).numpy())[0]
        )
    if "world" in wanted:
        systems["WORLD (pyworld, from its own analysis)"] = world
    utterances = list(read_manifest(args.manifest))[: args.count]
    totals = {name: {"mcd": 0.0, "pesq": 0.0, "stoi": 0.0} for name in systems}
    outputs: dict[str, list[np.ndarray]] = {"original": [], **{name: [] for name in systems}}
    for index, utterance in enumerate(utterances):
        original, _ = read_audio(utterance.audio, RATE)
        outputs["original"].append(original)
        if index == 0 and args.samples:
            write_audio(args.samples / "original.wav", original, RATE)
        for name, system in systems.items():
            # Every output at the original's length: DNSMOS tiles clips shorter than its 9 s window, so a
            # few extra milliseconds move where the loop's seam falls and its score by up to 0.1.
            output = fit_length(system(original), len(original))
            outputs[name].append(output)
            for key, value in scores(original, output).items():
                totals[name][key] += value / len(utterances)
            if index == 0 and args.samples:
                write_audio(args.samples / f"{name.split()[0].lower().strip('-')}.wav", output, RATE)
    extra = {}  # column title -> {system: formatted value}, originals included
    if args.cer:
        rates = recognizer_cer(outputs, [u.text for u in utterances])
        extra["CER (%)"] = {name: f"{rate:.1f}" for name, rate in rates.items()}
    if args.dnsmos:
        from dnsmos import dnsmos

        extra["DNSMOS OVRL"] = {name: f"{dnsmos(audio, RATE)['ovrl']:.2f}" for name, audio in outputs.items()}
    print(f"{len(utterances)} files from {args.manifest}; {describe_machine()}")
    print("| system | MCD (dB, lower is better) | PESQ wb | STOI |" + "".join(f" {t} |" for t in extra))
    print("|---|---|---|---|" + "---|" * len(extra))
    if extra:
        print("| original | | | |" + "".join(f" {column['original']} |" for column in extra.values()))
    for name, total in totals.items():
        row = f"| {name} | {total['mcd']:.2f} | {total['pesq']:.2f} | {total['stoi']:.3f} |"
        print(row + "".join(f" {column[name]} |" for column in extra.values()))


def recognizer_cer(outputs: dict[str, list[np.ndarray]], texts: list[str]) -> dict[str, float]:
    """The shipped recognizer's (greedy) CER in percent on each system's outputs."""
    from speech.recognizer import Recognizer
    from speech.scoring import error_rates
    from speech.text import normalize_text

    recognizer = Recognizer.load()
    references = [normalize_text(text) for text in texts]
    rates = {}
    for name, audio in outputs.items():
        results = recognizer.transcribe([(samples, RATE) for samples in audio])
        hypotheses = [r.transcript.text if r.transcript else "" for r in results]
        rates[name] = 100 * error_rates(references, hypotheses)["cer"]
    return rates


if __name__ == "__main__":
    main()
