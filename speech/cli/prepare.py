"""``speech prepare``: a corpus in one of the common layouts becomes a JSON Lines manifest."""

from __future__ import annotations

import argparse
import logging
import textwrap
from pathlib import Path

from tqdm import tqdm

from speech.cli.options import DeprecatedAlias, add_output_file
from speech.data.importers import IMPORTERS, import_corpus, importer_options
from speech.data.manifest import write_manifest
from speech.errors import SpeechError, shown

log = logging.getLogger(__name__)

FORMATS = {
    "librispeech": "SOURCE is a subset (train-clean-100) or a folder of subsets: speaker/chapter/*.flac "
    "and speaker-chapter.trans.txt",
    "ljspeech": "SOURCE holds metadata.csv (id|text|normalized) and wavs/ID.wav; the normalized text is used",
    "commonvoice": "SOURCE is a locale folder with clips/ and SPLIT.tsv; speaker is client_id",
    "kaldi": "SOURCE is a data folder: wav.scp, text, optional utt2spk and segments (pipes in wav.scp are skipped)",
    "folder": "SOURCE is searched for wav/flac/ogg/mp3/opus files, each with a same-name .txt beside it; "
    "speaker is the parent folder's name",
    "csv": "SOURCE is a CSV file with a header; see --audio-column, --text-column, --speaker-column, --delimiter",
    "sphinx": "SOURCE holds fileids + transcription (or NAME.fileids + NAME.transcription) and ID.wav or wav/ID.wav",
}

# Options whose argparse destination is also the importer's keyword.
OPTIONS = ("split", "audio_column", "text_column", "speaker_column", "delimiter")


def _formats_help() -> str:
    width = max(len(name) for name in IMPORTERS)
    lines = [
        textwrap.fill(
            FORMATS.get(name, ""),
            100,
            initial_indent=f"  {name:<{width}}  ",
            subsequent_indent=" " * (width + 4),
        )
        for name in IMPORTERS
    ]
    return "formats:\n" + "\n".join(lines)


def _delimiter(value: str) -> str:
    """Let a shell user write a tab as 'tab' or '\\t' rather than quoting a literal tab character."""
    value = {"tab": "\t", "\\t": "\t"}.get(value.lower(), value)
    if len(value) != 1:
        raise argparse.ArgumentTypeError(f"must be one character (or 'tab'), not {value!r}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "prepare",
        help="write a manifest from a corpus (LibriSpeech, LJSpeech, Common Voice, Kaldi, folder, CSV, Sphinx)",
        description="Read a corpus in one of the layouts below and write a JSON Lines manifest (one utterance a "
        "line: id, absolute audio path, duration, raw transcript, speaker). Unreadable, empty or missing audio "
        "and missing transcripts are reported one per line and left out; the rest is imported.",
        epilog=_formats_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("format", metavar="FORMAT", choices=list(IMPORTERS), help="corpus layout (see below)")
    parser.add_argument("source", metavar="SOURCE", help="corpus folder, or the CSV file for format csv")
    add_output_file(
        parser,
        "manifest to write (.jsonl); written atomically, replacing any existing file",
        metavar="MANIFEST",
        required=False,  # while --output still works; checked in run()
    )
    parser.add_argument("--output", dest="out", action=DeprecatedAlias, instead="-o/--out")  # before 0.2
    parser.add_argument(
        "--split",
        metavar="NAME",
        help="commonvoice only: which TSV to read, e.g. train, dev, test, validated (default: train)",
    )
    parser.add_argument(
        "--audio-column",
        metavar="NAME",
        help="csv only: column holding audio paths, relative to the CSV's folder or absolute "
        "(default: audio)",
    )
    parser.add_argument(
        "--text-column", metavar="NAME", help="csv only: column holding transcripts (default: text)"
    )
    parser.add_argument(
        "--speaker-column",
        metavar="NAME",
        help="csv only: column holding speaker names (default: none, speaker left empty)",
    )
    parser.add_argument(
        "--delimiter",
        metavar="CHAR",
        type=_delimiter,
        help="csv only: field separator, one character or 'tab' (default: ,)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.out is None:
        raise SpeechError("-o/--out is required: the manifest to write")
    if Path(args.out).is_dir():  # checked before the import, which can take a while
        raise SpeechError(f"{shown(args.out)}: -o must name the manifest file to write, and this is a folder")
    options = {name: getattr(args, name) for name in OPTIONS if getattr(args, name) is not None}
    accepted = importer_options(args.format)
    unused = [f"--{name.replace('_', '-')}" for name in options if name not in accepted]
    if unused:
        raise SpeechError(f"{', '.join(unused)} does not apply to format '{args.format}'")
    with tqdm(unit="entry", desc="importing", disable=None) as progress:
        result = import_corpus(args.format, args.source, progress=progress.update, **options)
    for where, reason in result.skipped:
        log.warning("%s: %s", where, reason)
    if not result.utterances:
        raise SpeechError(
            f"{args.source}: nothing imported as {args.format} ({len(result.skipped)} entries skipped)"
        )
    write_manifest(args.out, result.utterances)
    speakers = len({utterance.speaker for utterance in result.utterances if utterance.speaker})
    log.info(
        "%d utterances (%.2f h), %d speakers, %d skipped -> %s",
        len(result.utterances),
        result.duration / 3600,
        speakers,
        len(result.skipped),
        args.out,
    )
    return 0
