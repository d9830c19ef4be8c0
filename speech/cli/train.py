"""``speech train``: train a model from a YAML config, alone or under torchrun."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from speech.errors import SpeechError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model from a YAML config (one CPU, one GPU, or many with --nproc / torchrun)",
        description="Train the model a YAML config describes. Any config value can be overridden as "
        "key=value (e.g. optim.lr=3e-4 data.batch_seconds=200). Under torchrun every process trains one "
        "DistributedDataParallel replica: torchrun --nproc_per_node=4 -m speech train CONFIG.",
    )
    parser.add_argument("config", help="YAML config, e.g. conf/asr/small.yaml")
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. optim.lr=3e-4"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the newest checkpoint in train.out_dir (starts fresh if there is none)",
    )
    parser.add_argument(
        "--nproc",
        type=int,
        default=1,
        help="launch this many processes on this machine with torchrun (default: 1, no launcher)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.nproc > 1 and "LOCAL_RANK" not in os.environ:
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={args.nproc}",
            "-m",
            "speech",
            "train",
            args.config,
            *args.overrides,
            *(["--resume"] if args.resume else []),
        ]
        return subprocess.run(command, check=False).returncode
    if args.nproc < 1:
        raise SpeechError(f"--nproc must be at least 1, got {args.nproc}")

    from speech.train import train_model

    _, metrics = train_model(args.config, args.overrides, resume=args.resume)
    if metrics:
        print(" ".join(f"{key}={value:.4g}" for key, value in metrics.items()))
    return 0
