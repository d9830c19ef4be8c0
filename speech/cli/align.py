"""``speech align``: phoneme durations for every utterance of a manifest, by forced alignment."""

from __future__ import annotations

import argparse
import dataclasses
import logging

from tqdm import tqdm

from speech.cli.options import add_device_option, add_output_file
from speech.data.manifest import read_manifest, write_manifest
from speech.errors import SpeechError

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "align",
        help="add phonemes and their durations (feature frames) to a manifest, for training a voice",
        description="Force-align each utterance's phonemes to its audio with a phoneme aligner (a model trained "
        "with task: aligner, e.g. conf/aligner/small.yaml) and write the manifest again with 'phonemes' (the "
        "acoustic model's input tokens) and 'durations' (frames per token, summing to the utterance's frame "
        "count). Audio is read as `speech shard` reads it, so the durations fit the shards written from the "
        "output. Utterances that cannot be aligned are reported and left out.",
    )
    parser.add_argument("manifest", help="JSON Lines manifest (speech prepare)")
    add_output_file(parser, "the manifest to write, with phonemes and durations", metavar="MANIFEST")
    parser.add_argument(
        "--model",
        required=True,
        help="phoneme aligner folder (speech train conf/aligner/...); required because no aligner ships: "
        "an aligner fits one voice's recordings, so it is trained on the corpus it aligns",
    )
    parser.add_argument(
        "--silence-db",
        type=float,
        default=40.0,
        help="frames this many dB below the loudest frame count as silence (pauses) (default: 40)",
    )
    add_device_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from speech.aligner import PhonemeAligner  # imports torch: only when the command runs
    from speech.audio import read_audio

    aligner = PhonemeAligner.load(args.model, args.device)
    utterances = list(read_manifest(args.manifest))
    aligned, failed = [], 0
    frame_shift = aligner.features.hop_length / aligner.features.sample_rate
    for utterance in tqdm(utterances, unit="utt", desc="aligning", disable=None):
        try:
            samples, _ = read_audio(
                utterance.audio,
                aligner.features.sample_rate,
                offset=utterance.offset,
                duration=utterance.duration if utterance.offset else None,
            )
            tokens, durations = aligner.align(samples, utterance.text, args.silence_db)
        except SpeechError as error:
            failed += 1
            tqdm.write(f"skipped {utterance.id}: {error}")
            continue
        aligned.append(
            dataclasses.replace(
                utterance, phonemes=tuple(tokens), durations=tuple(durations), frame_shift=frame_shift
            )
        )
    write_manifest(args.out, aligned)
    log.info("%d utterances aligned into %s, %d skipped", len(aligned), args.out, failed)
    if not aligned:
        raise SpeechError(f"{args.manifest}: no utterance could be aligned")
    return 0
