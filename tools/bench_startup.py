"""Benchmark: `speech transcribe` as a whole process, start-up included, for each recognizer backend.

    python tools/bench_startup.py [--model DIR] [--backends auto torch onnx onnx-int8] [--repeats 3]

Two jobs, each run as `python -m speech transcribe ... --format txt --overwrite` in a fresh process:

* one short file: Debian's librivox clip sense_and_sensibility_01_austen_64kb-0880.wav (2.99 s);
* 10 minutes of audio in 12 files of 50 s, each Debian's five librivox clips (24.7 s of real read speech)
  joined end to end with 0.3 s of silence between, repeated to 50 s, every file starting at another clip.

For each it reports the whole process's wall time (best and median of --repeats), its real-time factor, the
time the command itself reports for the transcription (files read, recognised, written), and the process's
peak resident memory (the child's ``ru_maxrss``, which on Linux starts from this process's size at the
fork: this tool keeps torch out of itself until the runs are over). It then lists which heavy modules
(torch, torchaudio, scipy, numba, wandb, webdataset, librosa) `python -X importtime` sees loaded by
`speech transcribe --help` and by the short file's run with the default backend. Run it on an idle machine.
The int8 backend needs ``model.int8.onnx``: when the model folder lacks it, every backend runs from a copy
of the folder with ``speech export --int8`` written into it (the onnx extra).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from speech.assets import ASR_MODEL
from speech.audio import read_audio

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
SHORT = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"
HEAVY = ("torch", "torchaudio", "scipy", "numba", "wandb", "webdataset", "librosa")
RATE = 16000


def make_long_set(folder: Path, files: int = 12, seconds: float = 50.0) -> list[Path]:
    """``files`` files of ``seconds`` each from the librivox clips, each starting at another clip."""
    clips = [read_audio(path, RATE)[0] for path in sorted(LIBRIVOX.glob("*.wav"))]
    gap = np.zeros(int(0.3 * RATE), dtype=np.float32)
    paths = []
    for index in range(files):
        pieces, length = [], 0
        while length < seconds * RATE:
            clip = clips[(index + len(pieces) // 2) % len(clips)]
            pieces += [clip, gap]
            length += len(clip) + len(gap)
        path = folder / f"long{index:02d}.wav"
        sf.write(path, np.concatenate(pieces)[: int(seconds * RATE)], RATE, subtype="PCM_16")
        paths.append(path)
    return paths


def run(inputs: list[str], out: Path, model: str, backend: str) -> tuple[float, float, float]:
    """(wall seconds, seconds the command reports for transcribing, peak RSS in MB) of one fresh process."""
    command = [sys.executable, "-m", "speech", "transcribe", *inputs, "-o", str(out), "--format", "txt"]
    command += ["--overwrite", "--model", model, "--backend", backend]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    summary = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"error: {' '.join(command)} exited with {process.returncode}")
    inside = float(re.search(r"of audio in ([0-9.]+) s", summary).group(1))
    return elapsed, inside, usage.ru_maxrss / 1024


def heavy_imports(arguments: list[str]) -> list[str]:
    """The HEAVY modules that ``python -X importtime -m speech ARGUMENTS`` imports."""
    command = [sys.executable, "-X", "importtime", "-m", "speech", *arguments]
    log = subprocess.run(command, capture_output=True, text=True).stderr
    loaded = {line.rsplit("|", 1)[1].strip() for line in log.splitlines() if line.startswith("import time:")}
    return [name for name in HEAVY if name in loaded]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", default=str(ASR_MODEL), help="recognizer folder (default: the shipped one)"
    )
    parser.add_argument("--backends", nargs="+", default=["auto", "torch", "onnx", "onnx-int8"])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each job (default: 3)")
    args = parser.parse_args()
    if not SHORT.exists():
        sys.exit(f"error: {SHORT} not found (Debian package pocketsphinx-testdata)")
    work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    model = args.model
    if "onnx-int8" in args.backends and not (Path(model) / "model.int8.onnx").exists():
        model = str(work / "model")  # a copy, with the int8 export the shipped folder does not carry
        shutil.copytree(args.model, model)
        subprocess.run(
            [sys.executable, "-m", "speech", "export", model, "--int8"], check=True, capture_output=True
        )
    long_set = make_long_set(work)
    long_seconds = sum(sf.info(path).duration for path in long_set)
    jobs = {
        f"1 file, {sf.info(SHORT).duration:.2f} s": [str(SHORT)],
        f"{len(long_set)} files, {long_seconds / 60:.1f} min": [str(path) for path in long_set],
    }
    seconds = {name: sum(sf.info(path).duration for path in inputs) for name, inputs in jobs.items()}
    print("| job | backend | whole process, best (median) | real time | inside the command | peak memory |")
    print("|---|---|---|---|---|---|")
    for name, inputs in jobs.items():
        for backend in args.backends:
            runs = [run(inputs, work / "out", model, backend) for _ in range(args.repeats)]
            walls = [wall for wall, _, _ in runs]
            best = min(walls)
            print(
                f"| {name} | {backend} | {best:.2f} s ({statistics.median(walls):.2f} s) "
                f"| {seconds[name] / best:.0f}x | {min(inside for _, inside, _ in runs):.2f} s "
                f"| {max(rss for _, _, rss in runs):.0f} MB |"
            )
    short_run = ["transcribe", str(SHORT), "-o", str(work / "out"), "--overwrite", "--model", model]
    for label, arguments in (("transcribe --help", ["transcribe", "--help"]), ("the 1-file run", short_run)):
        print(f"heavy modules imported by {label}: {', '.join(heavy_imports(arguments)) or 'none'}")
    # last: describing the machine imports torch, and a child's peak memory counts its parent's at the fork
    from machine import describe_machine

    print(f"{describe_machine()}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")


if __name__ == "__main__":
    main()
