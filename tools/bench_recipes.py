"""Benchmark: the two corpus recipes in --smoke mode, end to end, on 50-utterance corpora made with flite.

    python tools/bench_recipes.py [--count 50] [--work DIR]

Makes an LJSpeech-layout folder (flite slt at 22.05 kHz, as LJSpeech is stored) and a folder of WAV + TXT
pairs (four flite voices, one of them at 8 kHz), then times `pipelines/voice/run.sh ... --smoke` and
`pipelines/finetune/run.sh ... --smoke` on them, each from its start to its last line (the folder's path),
and each stage from the files it wrote. Target (issue #30): both in under 10 minutes on 2 CPU cores. The
corpus makers are the ones tests/test_recipes.py uses.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import describe_machine

from speech.audio import read_audio, resample, write_audio

REPO = Path(__file__).resolve().parents[1]
SENTENCES = (REPO / "tools" / "corpus_text" / "sentences.txt").read_text(encoding="utf-8").splitlines()
FLITE_VOICES = ("slt", "rms", "awb", "kal")  # kal speaks at 8 kHz, the others at 16 kHz


def flite(text: str, voice: str = "slt") -> tuple[np.ndarray, int]:
    """``text`` said by one of flite's voices: (samples, rate)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "said.wav"
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(path)], check=True)
        return read_audio(path)


def ljspeech_corpus(folder: Path, count: int, rate: int = 22050) -> Path:
    """An LJSpeech-layout folder: flite slt reading ``count`` sentences, stored at ``rate`` as LJSpeech is."""
    lines = []
    for index, text in enumerate(SENTENCES[:count]):
        samples, source_rate = flite(text)
        write_audio(folder / "wavs" / f"LJ{index:04d}.wav", resample(samples, source_rate, rate), rate)
        lines.append(f"LJ{index:04d}|{text}|{text}")
    (folder / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def pairs_corpus(folder: Path, count: int) -> Path:
    """A folder of WAV + TXT pairs, one sub-folder per speaker (four flite voices, two sample rates)."""
    for index, text in enumerate(SENTENCES[200 : 200 + count]):
        voice = FLITE_VOICES[index % len(FLITE_VOICES)]
        samples, rate = flite(text, voice)
        write_audio(folder / voice / f"{index:04d}.wav", samples, rate)
        (folder / voice / f"{index:04d}.txt").write_text(text + "\n", encoding="utf-8")
    return folder


def run_recipe(script: str, corpus: Path, format: str, work: Path) -> tuple[float, str]:
    """Seconds for one smoke run, and its last line of output."""
    command = ["bash", f"pipelines/{script}/run.sh", str(corpus), "--format", format, "--smoke"]
    command += ["--data", str(work / "data"), "--exp", str(work / "exp"), "--out", str(work / "folder")]
    start = time.perf_counter()
    run = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, env={**os.environ, "WANDB_MODE": "disabled"}
    )
    elapsed = time.perf_counter() - start
    if run.returncode:
        raise SystemExit(f"{script} failed:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
    return elapsed, run.stdout.strip().splitlines()[-1]


def stage_times(work: Path, marks: list[tuple[str, str]], start: float) -> str:
    """Each stage's share, from the modification time of the file it writes last."""
    parts, before = [], start
    for name, path in marks:
        done = (work / path).stat().st_mtime
        parts.append(f"{name} {done - before:.0f} s")
        before = done
    return ", ".join(parts)


VOICE_STAGES = [
    ("import and clean", "data/corpus.json"),
    ("shards", "data/shards/valid/shards.json"),
    ("aligner", "exp/aligner/best/config.json"),
    ("alignment and shards", "data/shards/valid_aligned/shards.json"),
    ("acoustic model", "exp/tts/best/config.json"),
    ("vocoder", "exp/vocoder/best/config.json"),
    ("scores", "exp/eval/scores.json"),
    ("folder", "folder/README.md"),
]
FINETUNE_STAGES = [
    ("import and clean", "data/corpus.json"),
    ("shards", "data/shards/valid/shards.json"),
    ("fine-tune", "exp/last/config.json"),
    ("decoder", "exp/best/decoder.json"),
    ("scores", "exp/eval/test/beam.json"),
    ("folder", "folder/README.md"),
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=50, help="utterances in each corpus (default 50)")
    parser.add_argument("--work", type=Path, help="keep corpora and runs here (default: a temporary folder)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_recipes-"))
    start = time.perf_counter()
    voice_corpus = ljspeech_corpus(work / "ljspeech", args.count)
    pairs = pairs_corpus(work / "pairs", args.count)
    print(
        f"{describe_machine()}\ncorpora: 2 x {args.count} utterances made in {time.perf_counter() - start:.1f} s"
    )
    total = 0.0
    for script, corpus, format, stages in [
        ("voice", voice_corpus, "ljspeech", VOICE_STAGES),
        ("finetune", pairs, "folder", FINETUNE_STAGES),
    ]:
        began = time.time()
        elapsed, last = run_recipe(script, corpus, format, work / script)
        total += elapsed
        print(f"{script} --smoke: {elapsed:.1f} s ({stage_times(work / script, stages, began)}); -> {last}")
    print(f"both: {total:.1f} s (target: under 600 s)")


if __name__ == "__main__":
    main()
