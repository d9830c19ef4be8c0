"""Benchmark: a batch job in one process against the same job split over processes (`--nproc`).

    python tools/bench_scale_out.py [--repeats 3] [--nproc 2]

Two jobs, each run as a fresh `python -m speech ...` process writing into an empty folder:

* `speech transcribe` of 10 minutes of audio in 12 files of 50 s (Debian's librivox clips joined end to end:
  `tools/bench_startup.py`'s set), greedy, `--format txt,json`;
* `speech synthesize --lines` of 48 sentences (three groups of 16) with the shipped voice and Griffin-Lim.

Each job runs as one process with PyTorch's default threads, as one process with one thread, and as
`--nproc N` processes (one thread each). For each: the whole process's wall time (best and median of
--repeats; start-up of every process included), its real-time factor, and the time the command itself
reports (rank 0's summary: the work, without start-up). Every run's outputs are checked byte for byte
against the first run's. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_startup import make_long_set
from machine import describe_machine

SENTENCES = [
    "The teacher gave us a gold star for neat handwriting.",
    "My grandfather grew up on a farm with eleven brothers and sisters.",
    "Please close the window before the rain comes in.",
    "A quiet river runs past the old mill at the edge of town.",
    "She counted the coins twice and still found one missing.",
    "The train to the coast leaves at a quarter past nine.",
]


def run_job(command: list[str], out: Path, threads: int | None) -> tuple[float, float, str]:
    """(wall seconds, the command's own seconds, its summary line) for one fresh process."""
    environment = dict(os.environ)
    if threads:
        environment["OMP_NUM_THREADS"] = str(threads)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "speech", *command, "-o", str(out)],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
    line = result.stdout.strip().splitlines()[-1]
    reported = float(re.search(r" in ([0-9.]+) s", line).group(1))
    return wall, reported, line


def same_outputs(a: Path, b: Path) -> bool:
    names = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    if names != sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file()):
        return False
    return all(filecmp.cmp(a / name, b / name, shallow=False) for name in names)


def bench(name: str, command: list[str], seconds: float, work: Path, repeats: int, nproc: int) -> None:
    layouts = [
        ("1 process, default threads", [], None),
        ("1 process, 1 thread", [], 1),
        (f"{nproc} processes (--nproc {nproc}), 1 thread each", ["--nproc", str(nproc)], None),
    ]
    reference = None
    for number, (label, extra, threads) in enumerate(layouts):
        walls, reports = [], []
        for repeat in range(repeats):
            out = work / f"{command[0]}-{number}-{repeat}"
            wall, reported, line = run_job([*command, *extra], out, threads)
            walls.append(wall)
            reports.append(reported)
            reference = reference or out
            assert same_outputs(out, reference), f"{out} differs from {reference}"
        best, median = min(walls), statistics.median(walls)
        print(
            f"| {name} | {label} | {best:.2f} s ({seconds / best:.0f}x) | {median:.2f} s | "
            f"{min(reports):.2f} s ({seconds / min(reports):.0f}x) |"
        )
        print(f"    last summary: {line}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of each layout (default 3)")
    parser.add_argument("--nproc", type=int, default=2, help="processes for the split run (default 2)")
    args = parser.parse_args()
    print(describe_machine())
    print("| job | layout | whole process, best | median | the command's own time, best |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "audio").mkdir()
        audio = make_long_set(work / "audio")
        (work / "list.txt").write_text("".join(f"{path}\n" for path in audio))
        transcribe = ["transcribe", f"@{work / 'list.txt'}", "--format", "txt,json"]
        bench("transcribe 10 min in 12 files", transcribe, 600.0, work, args.repeats, args.nproc)

        text = work / "lines.txt"
        text.write_text("".join(f"{SENTENCES[n % len(SENTENCES)]}\n" for n in range(48)))
        synthesize = ["synthesize", str(text), "--lines", "--vocoder", "griffin-lim"]
        spoken = _spoken_seconds(synthesize, work)
        bench("synthesize --lines, 48 sentences", synthesize, spoken, work, args.repeats, args.nproc)


def _spoken_seconds(command: list[str], work: Path) -> float:
    """The synthesised audio's length, from a first run's summary (the same for every layout)."""
    _, _, line = run_job(command, work / "synthesize-warmup", None)
    match = re.search(r"\(([0-9.]+) s of audio", line)
    return float(match.group(1))


if __name__ == "__main__":
    main()
