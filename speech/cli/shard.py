"""``speech shard``: manifests become WebDataset shards for streaming training."""

from __future__ import annotations

import argparse
import logging

from tqdm import tqdm

from speech.cli.options import add_output_folder
from speech.cli.outputs import output_folder
from speech.data.manifest import read_manifest
from speech.errors import SpeechError, shown

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "shard",
        help="write WebDataset shards (FLAC + JSON) from manifests",
        description="Read every utterance of one or more JSONL manifests, resample it, and write size-capped WebDataset "
        "tar shards plus an index (shards.json). Unreadable audio is reported and skipped. A stopped run, run "
        "again, keeps the shards it finished and goes on from there (see --overwrite).",
    )
    parser.add_argument(
        "manifests",
        nargs="+",
        help="JSON Lines manifests written by `speech prepare`; several are sharded together, in order",
    )
    add_output_folder(parser, "the shards and their index", required=True)
    parser.add_argument(
        "--sample-rate",
        type=int,
        default=16000,
        help="resample all audio to this rate in Hz once, when writing (default: 16000)",
    )
    parser.add_argument(
        "--max-size-mb",
        type=float,
        default=256,
        help="start a new shard before one passes this many MiB of audio (default: 256)",
    )
    parser.add_argument(
        "--max-samples",
        type=int,
        default=10_000,
        help="start a new shard after this many utterances (default: 10000)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write every shard again (default: keep the shards a stopped run of the same job finished)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from speech.data.shards import write_shards  # imports torch via webdataset: only when run

    out = output_folder(args.out)
    utterances = [utterance for manifest in args.manifests for utterance in read_manifest(manifest)]
    if not utterances:
        raise SpeechError(f"{', '.join(map(shown, args.manifests))}: no utterances, no shards written")
    report = write_shards(
        utterances,
        out,
        sample_rate=args.sample_rate,
        max_bytes=int(args.max_size_mb * 2**20),
        max_samples=args.max_samples,
        progress=lambda items: tqdm(items, total=len(utterances), unit="utt", desc="sharding", disable=None),
        resume=not args.overwrite,
    )
    for utterance_id, reason in report.skipped:
        log.warning("skipped %s: %s", utterance_id, reason)
    log.info(
        "%d utterances (%.2f h) in %d shards under %s; %d skipped",
        report.samples,
        report.seconds / 3600,
        len(report.shards),
        args.out,
        len(report.skipped),
    )
    if report.samples == 0:
        raise SpeechError(
            f"{', '.join(map(shown, args.manifests))}: no utterance could be read, no shards written"
        )
    return 0
