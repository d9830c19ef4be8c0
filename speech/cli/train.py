"""``speech train``: train a model from a YAML config, alone or under torchrun."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from speech.cli.logs import log_to_file, process_rank
from speech.cli.options import add_output_folder
from speech.cli.ranks import add_nproc_option, launch, under_launcher

LOG_FILE = "train.log"  # in the run folder, beside metrics.jsonl and the checkpoints


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model from a YAML config (one CPU, one GPU, or many with --nproc / torchrun)",
        description="Train the model a YAML config describes. Any config value can be overridden as "
        "key=value (e.g. optim.lr=3e-4 data.batch_seconds=200). Under torchrun every process trains one "
        "DistributedDataParallel replica: torchrun --nproc_per_node=4 -m speech train CONFIG. The run "
        f"folder gets the log as {LOG_FILE}, beside metrics.jsonl and the checkpoints.",
    )
    parser.add_argument("config", help="YAML config, e.g. conf/asr/small.yaml")
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. optim.lr=3e-4"
    )
    add_output_folder(
        parser,
        "the run",
        default=None,
        help="the run folder; the same as the override train.out_dir=FOLDER (default: the config's)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the newest checkpoint in train.out_dir (starts fresh if there is none)",
    )
    add_nproc_option(parser)
    parser.add_argument(
        "--log-all-ranks",
        action="store_true",
        help="under torchrun, log from every process, each line prefixed with its rank "
        "(default: rank 0 only, and the others' errors)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    overrides = [*args.overrides, *([f"train.out_dir={args.out}"] if args.out else [])]
    if args.nproc != 1 and not under_launcher():
        command = [
            *(["--verbose"] if args.verbose else []),
            "train",
            args.config,
            *overrides,
            *(["--resume"] if args.resume else []),
            *(["--log-all-ranks"] if args.log_all_ranks else []),
        ]
        return launch(args.nproc, command)

    from speech.config import load_config
    from speech.train import train_model

    experiment = load_config(args.config, overrides)
    logs_here = process_rank()[0] == 0 or args.log_all_ranks
    log_file = Path(experiment.train.out_dir) / LOG_FILE
    with log_to_file(log_file, args.log_all_ranks) if logs_here else contextlib.nullcontext():
        _, metrics = train_model(experiment, resume=args.resume)
    if metrics:
        print(" ".join(f"{key}={value:.4g}" for key, value in metrics.items()))
    return 0
