"""``speech eval``: word and character error rates of a recognizer on a manifest, worst utterances listed."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable

from tqdm import tqdm

from speech.audio import atomic_output
from speech.cli.options import add_recognizer_options, load_recognizer
from speech.data.manifest import read_manifest
from speech.errors import SpeechError
from speech.scoring import error_rates, evaluate


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="score a recognizer on a manifest (WER, CER, worst utterances)",
        description="Transcribe every utterance of a JSONL manifest and compare with its transcript, both "
        "normalised (speech.text.normalize_text). Prints WER, CER and the worst utterances.",
    )
    parser.add_argument("manifest", help="JSON Lines manifest with reference transcripts")
    parser.add_argument(
        "--worst", type=int, default=10, help="how many worst utterances to list (default: 10)"
    )
    parser.add_argument(
        "--json", metavar="PATH", help="also write scores and every utterance's result as JSON"
    )
    parser.add_argument(
        "--by-speaker",
        action="store_true",
        help="also score each speaker (the manifest's speaker field) on its own, worst first",
    )
    parser.add_argument(
        "--speaker-group",
        metavar="REGEX",
        help="score groups of speakers instead (implies --by-speaker): a speaker counts under the part of "
        "its name that REGEX matches, e.g. '^[^:]+' puts espeak:en-us+f4 with the other espeak voices",
    )
    add_recognizer_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    group = speaker_grouping(args.speaker_group)
    utterances = [u for u in read_manifest(args.manifest)]
    segments = [u.id for u in utterances if u.offset]
    if segments:
        raise SpeechError(
            f"{args.manifest}: {len(segments)} utterances are segments (offset); not supported yet"
        )
    recognizer = load_recognizer(args)
    scores = evaluate(
        recognizer,
        [u.audio for u in utterances],
        [u.text for u in utterances],
        [u.id for u in utterances],
        progress=lambda items: tqdm(
            items, total=len(utterances), unit="utt", desc="evaluating", disable=None
        ),
    )
    rows, failures = scores["utterances_scored"], scores["failures"]
    print(
        f"{args.manifest}: WER {100 * scores['wer']:.2f}%  CER {100 * scores['cer']:.2f}%  "
        f"({scores['utterances']} utterances, {len(failures)} unreadable)"
    )
    for row in sorted(rows, key=lambda row: -row["wer"])[: args.worst]:
        print(
            f"  {row['wer']:.2f}  {row['id']}\n        ref: {row['reference']}\n        hyp: {row['hypothesis']}"
        )
    if args.by_speaker or args.speaker_group:
        speaker_of = {u.id: group(u.speaker or "(none)") for u in utterances}
        scores["speakers"] = speaker_scores(rows, speaker_of)
        print(f"  by speaker{' group' if args.speaker_group else ''} (WER / CER, utterances):")
        for speaker, result in scores["speakers"].items():
            print(
                f"    {speaker}: {100 * result['wer']:.2f}% / {100 * result['cer']:.2f}%  ({result['utterances']})"
            )
    if args.json:
        with atomic_output(args.json, "w") as stream:
            json.dump(scores, stream, indent=1)
    return 0


def speaker_grouping(pattern: str | None) -> Callable[[str], str]:
    """The group a speaker's name falls in: the part REGEX matches (the whole name where it matches none,
    or when there is no REGEX)."""
    if not pattern:
        return str
    try:
        regex = re.compile(pattern)
    except re.error as error:
        raise SpeechError(f"--speaker-group: {pattern!r} is not a regular expression ({error})") from None

    def group(speaker: str) -> str:
        match = regex.search(speaker)
        return match.group(0) if match and match.group(0) else speaker

    return group


def speaker_scores(rows: list[dict], speaker_of: dict[str, str]) -> dict[str, dict[str, float]]:
    """WER and CER of each speaker's utterances, highest CER first."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(speaker_of[row["id"]], []).append(row)
    scores = {}
    for speaker, group in groups.items():
        if any(row["reference"] for row in group):
            scores[speaker] = error_rates([r["reference"] for r in group], [r["hypothesis"] for r in group])
    return dict(sorted(scores.items(), key=lambda item: -item[1]["cer"]))
