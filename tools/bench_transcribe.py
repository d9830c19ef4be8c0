"""Benchmark: `speech transcribe` end to end (files in, transcripts out) against pocketsphinx, same files.

    python tools/bench_transcribe.py MANIFEST [--minutes 10] [--model DIR]

Takes utterances from MANIFEST until --minutes of audio, writes their paths to a list file and runs
`speech transcribe @LIST` greedily and with beam search + the model's LM (model load included in the time),
then pocketsphinx (PyPI `pocketsphinx`, its bundled US English model, default settings) on the same files in
one process. Prints real-time factors and WER/CER (normalised text) as Markdown rows.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jiwer
import numpy as np
from machine import describe_machine

from speech.assets import ASR_MODEL
from speech.audio import read_audio
from speech.data.manifest import read_manifest
from speech.text.normalize import normalize_text


def pocketsphinx_transcribe(paths: list[str]) -> tuple[list[str], float]:
    from pocketsphinx import Decoder

    logging.getLogger("pocketsphinx").setLevel(logging.ERROR)
    decoder = Decoder(samprate=16000, loglevel="FATAL")
    texts, start = [], time.perf_counter()
    for path in paths:
        samples, _ = read_audio(path, 16000)
        decoder.start_utt()
        decoder.process_raw((np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes(), full_utt=True)
        decoder.end_utt()
        texts.append(decoder.hyp().hypstr if decoder.hyp() else "")
    return texts, time.perf_counter() - start


def ours(paths: list[str], model: str, beam: int, work: Path) -> tuple[list[str], float]:
    out = work / f"out-beam{beam}"
    command = [
        sys.executable,
        "-m",
        "speech",
        "transcribe",
        f"@{work / 'list.txt'}",
        "-o",
        str(out),
        "--format",
        "txt",
        "--model",
        model,
        "--beam",
        str(beam),
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    elapsed = time.perf_counter() - start
    return [(out / f"{Path(p).stem}.txt").read_text().strip() for p in paths], elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("manifest", help="manifest with reference transcripts")
    parser.add_argument("--minutes", type=float, default=10.0, help="audio to transcribe (default 10)")
    parser.add_argument("--model", default=str(ASR_MODEL), help="recognizer folder")
    parser.add_argument("--beam", type=int, default=32, help="beam size for the beam + LM run")
    args = parser.parse_args()

    utterances, total = [], 0.0
    for utterance in read_manifest(args.manifest):
        if total >= args.minutes * 60:
            break
        utterances.append(utterance)
        total += utterance.duration
    paths = [u.audio for u in utterances]
    if len({Path(p).stem for p in paths}) != len(paths):
        sys.exit("error: file names must be unique (outputs are named after them)")
    references = [normalize_text(u.text) for u in utterances]
    work = Path(tempfile.mkdtemp(prefix="bench-transcribe-"))
    (work / "list.txt").write_text("\n".join(paths) + "\n")
    runs = {
        "speech transcribe, greedy": ours(paths, args.model, 0, work),
        f"speech transcribe, beam {args.beam} + 3-gram LM": ours(paths, args.model, args.beam, work),
        "pocketsphinx 5 (en-us model, 1 process)": pocketsphinx_transcribe(paths),
    }
    machine = describe_machine()
    print(f"{len(paths)} files, {total / 60:.1f} min of audio from {args.manifest}; {machine}")
    for name, (texts, elapsed) in runs.items():
        hypotheses = [normalize_text(text) for text in texts]
        print(
            f"| {name} | {total / elapsed:.1f}x real time ({elapsed:.1f} s) "
            f"| WER {100 * jiwer.wer(references, hypotheses):.1f}% | CER {100 * jiwer.cer(references, hypotheses):.1f}% |"
        )


if __name__ == "__main__":
    main()
