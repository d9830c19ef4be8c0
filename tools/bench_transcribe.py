"""Benchmark: `speech transcribe` end to end (files in, transcripts out) against pocketsphinx, same files.

    python tools/bench_transcribe.py MANIFEST [--minutes 12] [--model DIR]

Takes utterances from MANIFEST until --minutes of audio, writes their paths to a list file and runs
`speech transcribe @LIST` greedily and with beam search + the model's LM, then pocketsphinx (PyPI
`pocketsphinx`, its bundled US English model, default settings) on the same files in one process per core,
so both use the machine's 2 cores. Prints real-time factors and WER/CER (normalised text) as Markdown rows.

Two speeds for ours: the whole process (interpreter, torch import, model load: a fixed ~2 s however much
audio there is) and the transcription itself, as `speech transcribe` reports it (files in, transcripts
written). Pocketsphinx's time excludes its start-up the same way.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import re
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

_decoder = None  # each pocketsphinx worker's decoder, loaded before the clock starts


def _load_pocketsphinx() -> None:
    global _decoder
    from pocketsphinx import Decoder

    logging.getLogger("pocketsphinx").setLevel(logging.ERROR)
    _decoder = Decoder(samprate=16000, loglevel="FATAL")


def _pocketsphinx_worker(paths: list[str]) -> list[str]:
    decoder, texts = _decoder, []
    for path in paths:
        samples, _ = read_audio(path, 16000)
        decoder.start_utt()
        decoder.process_raw((np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes(), full_utt=True)
        decoder.end_utt()
        texts.append(decoder.hyp().hypstr if decoder.hyp() else "")
    return texts


def pocketsphinx_transcribe(paths: list[str], processes: int) -> tuple[list[str], float]:
    """Every ``processes``-th file to each worker; the clock starts once every worker has loaded its model."""
    with multiprocessing.get_context("spawn").Pool(processes, initializer=_load_pocketsphinx) as pool:
        pool.map(time.sleep, [1.0] * processes)  # every worker up and its model loaded
        start = time.perf_counter()
        shares = pool.map(_pocketsphinx_worker, [paths[i::processes] for i in range(processes)])
        elapsed = time.perf_counter() - start
    texts = [""] * len(paths)
    for i, share in enumerate(shares):
        texts[i::processes] = share
    return texts, elapsed


def ours(paths: list[str], model: str, beam: int, work: Path) -> tuple[list[str], float, float]:
    """Transcripts, whole-process seconds and transcription seconds (from the command's summary line)."""
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
    summary = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    elapsed = time.perf_counter() - start
    transcribing = float(re.search(r"of audio in ([0-9.]+) s", summary).group(1))
    return [(out / f"{Path(p).stem}.txt").read_text().strip() for p in paths], elapsed, transcribing


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("manifest", help="manifest with reference transcripts")
    parser.add_argument("--minutes", type=float, default=12.0, help="audio to transcribe (default 12)")
    parser.add_argument("--model", default=str(ASR_MODEL), help="recognizer folder")
    parser.add_argument("--beam", type=int, default=32, help="beam size for the beam + LM run")
    parser.add_argument(
        "--processes", type=int, default=os.cpu_count() or 1, help="pocketsphinx processes (default: CPUs)"
    )
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
        f"speech transcribe, beam {args.beam} + character LM": ours(paths, args.model, args.beam, work),
    }
    texts, elapsed = pocketsphinx_transcribe(paths, args.processes)
    runs[f"pocketsphinx 5 (en-us model, {args.processes} processes)"] = (texts, None, elapsed)
    print(f"{len(paths)} files, {total / 60:.1f} min of audio from {args.manifest}; {describe_machine()}")
    print("| system | transcription speed | whole process | WER | CER |")
    print("|---|---|---|---|---|")
    for name, (texts, process, transcribing) in runs.items():
        hypotheses = [normalize_text(text) for text in texts]
        whole = f"{total / process:.0f}x ({process:.1f} s)" if process else "n/a"
        print(
            f"| {name} | {total / transcribing:.0f}x real time ({transcribing:.1f} s) | {whole} "
            f"| {100 * jiwer.wer(references, hypotheses):.1f}% | {100 * jiwer.cer(references, hypotheses):.1f}% |"
        )


if __name__ == "__main__":
    main()
