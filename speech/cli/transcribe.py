"""``speech transcribe``: many audio files in, transcripts out, resumable, one bad file never stops the run."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from tqdm import tqdm

from speech.audio import atomic_output, is_audio_file
from speech.cli.inputs import expand_inputs
from speech.cli.options import add_recognizer_options, load_recognizer
from speech.transcript import FORMATS, outputs_exist, parse_formats, write_transcript

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "transcribe",
        help="transcribe audio files (batched, resumable) to txt/json/srt/vtt/tsv",
        description="Transcribe audio files with a recognizer. Long recordings are cut at pauses and files are "
        "batched by length. A file whose outputs already exist is skipped (see --overwrite); a file that "
        "cannot be read is reported in one line and the run goes on; the exit status is 1 if any file failed.",
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="audio files, folders (searched recursively), glob patterns, @LIST files with one "
        "path per line, or - to read paths from standard input",
    )
    parser.add_argument(
        "-o", "--out", default=".", help="folder for the transcripts (default: current folder)"
    )
    parser.add_argument(
        "--format",
        default="txt,json",
        help=f"comma-separated output formats from {', '.join(FORMATS)}, or all (default: txt,json)",
    )
    parser.add_argument(
        "--batch-seconds",
        type=float,
        default=300.0,
        help="padded audio seconds per model batch (default: 300)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="transcribe files whose outputs already exist"
    )
    add_recognizer_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    formats = parse_formats(args.format)
    out = Path(args.out)
    recognizer = load_recognizer(args)
    stems: dict[str, Path] = {}
    skipped = 0
    for path, stem in expand_inputs(args.inputs, is_audio_file):
        if outputs_exist(out / stem, formats) and not args.overwrite:
            skipped += 1
        else:
            stems[str(path)] = out / stem
    failures, audio_seconds, start = [], 0.0, time.perf_counter()
    with tqdm(total=len(stems), unit="file", desc="transcribing", disable=None) as progress:
        for result in recognizer.transcribe(list(stems), batch_seconds=args.batch_seconds):
            if result.error:
                failures.append(result.error)
                tqdm.write(f"error: {result.error}", file=sys.stderr)
            else:
                write_transcript(result.transcript, stems[result.source], formats)
                audio_seconds += result.duration
            progress.update(1)
    elapsed = time.perf_counter() - start
    speed = f", {audio_seconds / elapsed:.0f}x real time" if audio_seconds and elapsed else ""
    print(
        f"{len(stems) - len(failures)} transcribed ({audio_seconds / 3600:.3f} h of audio in {elapsed:.1f} s{speed}), "
        f"{skipped} already done, {len(failures)} failed"
    )
    if failures:
        with atomic_output(out / "failures.txt", "w") as stream:
            stream.write("\n".join(failures) + "\n")
    return 1 if failures else 0
