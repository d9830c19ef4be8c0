"""Benchmark: trainer throughput (audio-seconds trained per wall-clock second) for 1 and 2 processes.

    python tools/bench_train.py [--steps 30] [--config conf/asr/small.yaml]

Makes a small synthetic corpus (tools/make_synthetic_corpus.py), shards it, then trains the given config
for --steps steps with one process and with two gloo DDP processes (torchrun), each rank taking
--batch-seconds of audio per step. Throughput is read from the run's metrics.jsonl, skipping the first
logging window (start-up). Prints Markdown rows for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from machine import describe_machine

REPO = Path(__file__).resolve().parents[1]


def throughput(run: Path) -> float:
    windows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    speeds = [w["train/audio_seconds_per_second"] for w in windows if "train/audio_seconds_per_second" in w]
    return sum(speeds[1:]) / len(speeds[1:])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default=str(REPO / "conf/asr/small.yaml"), help="model config to train")
    parser.add_argument("--steps", type=int, default=30, help="optimizer steps per run (default 30)")
    parser.add_argument("--batch-seconds", type=float, default=60, help="audio seconds per rank per step")
    parser.add_argument("--utterances", type=int, default=150, help="synthetic utterances to train on")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    subprocess.run(
        [
            sys.executable,
            str(REPO / "tools/make_synthetic_corpus.py"),
            "--out",
            str(work / "corpus"),
            "--count",
            str(args.utterances),
            "--seed",
            "3",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "speech",
            "shard",
            str(work / "corpus/manifest.jsonl"),
            "-o",
            str(work / "shards"),
            "--max-samples",
            "20",
        ],
        check=True,
        capture_output=True,
    )
    machine = describe_machine()
    for nproc in (1, 2):
        run = work / f"run{nproc}"
        overrides = [
            f"data.train={work / 'shards'}",
            "data.valid=",
            f"train.out_dir={run}",
            f"train.max_steps={args.steps}",
            "train.log_every=5",
            f"train.checkpoint_every={args.steps}",
            f"data.batch_seconds={args.batch_seconds}",
            "tracking.mode=disabled",
        ]
        subprocess.run(
            [sys.executable, "-m", "speech", "train", args.config, *overrides, "--nproc", str(nproc)],
            check=True,
            capture_output=True,
            env={**os.environ, "WANDB_MODE": "disabled"},
        )
        print(
            f"| trainer, {Path(args.config).name}, {nproc} process{'es' if nproc > 1 else ''} "
            f"({'gloo DDP' if nproc > 1 else 'no DDP'}), {args.batch_seconds:g} s of audio per rank per step "
            f"| {machine} | **{throughput(run):.1f}** audio-seconds per second |"
        )


if __name__ == "__main__":
    main()
