"""``speech transcribe``: many audio files in, transcripts out, resumable, one bad file never stops the run."""

from __future__ import annotations

import argparse
import logging

from tqdm import tqdm

from speech.audio import is_audio_file
from speech.cli.inputs import expand_inputs
from speech.cli.live import add_stream_options, run_stream
from speech.cli.options import add_output_folder, add_recognizer_options, load_recognizer
from speech.cli.outputs import output_folder
from speech.cli.ranks import (
    add_nproc_option,
    header_seconds,
    launch,
    main_rank_notes,
    merge_reports,
    process_group,
    rank_device,
    refuse_standard_input,
    share_work,
    under_launcher,
)
from speech.cli.report import BatchReport
from speech.errors import SpeechError
from speech.transcript import FORMATS, outputs_exist, parse_formats, write_transcript

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "transcribe",
        help="transcribe audio files (batched, resumable) to txt/json/srt/vtt/tsv",
        description="Transcribe audio files with a recognizer. Long recordings are cut at pauses and files are "
        "batched by length. A file whose outputs already exist is skipped (see --overwrite); a file that "
        "cannot be read is reported in one line and the run goes on; the exit status is 1 if any file failed. "
        "Whisper's spellings work too (--output_dir, --output_format all), and the JSON output's words carry "
        "Whisper's keys: word, start, end, probability.",
    )
    parser.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUT",
        help="audio files, folders (searched recursively), glob patterns, @LIST files with one "
        "path per line, or - to read paths from standard input (none with --stream)",
    )
    add_output_folder(parser, "the transcripts")
    parser.add_argument(
        "-f",
        "--format",
        "--output-format",
        "--output_format",  # Whisper's spelling
        dest="format",
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
    add_nproc_option(parser)
    add_stream_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.stream:
        return run_stream(args)
    if not args.inputs:
        raise SpeechError("give audio files to transcribe, or --stream to transcribe PCM on standard input")
    if args.nproc != 1 and not under_launcher():
        refuse_standard_input(args.inputs, args.nproc)
        return launch(args.nproc, args.argv)
    formats = parse_formats(args.format)
    out = output_folder(args.out)
    with process_group() as ranks:
        refuse_standard_input(args.inputs, ranks.world_size)
        args.device = rank_device(args.device, ranks)
        recognizer = load_recognizer(args)
        with main_rank_notes(ranks):
            jobs = [(str(path), out / stem) for path, stem in expand_inputs(args.inputs, is_audio_file)]

        mine, skipped = share_work(
            jobs,
            lambda job: not args.overwrite and outputs_exist(job[1], formats),
            lambda job: header_seconds(job[0]),
            ranks,
        )
        todo = dict(mine)
        report = BatchReport(out, "transcribed", skipped=len(skipped))
        with tqdm(total=len(todo), unit="file", desc="transcribing", disable=ranks.hide_bar) as progress:
            for result in recognizer.transcribe(list(todo), batch_seconds=args.batch_seconds):
                if result.error:
                    report.failed(result.error)
                else:
                    try:
                        write_transcript(result.transcript, todo[result.source], formats)
                        report.succeeded(result.duration)
                    except SpeechError as error:  # an output that cannot be written (disk full): the next may
                        report.failed(str(error))
                progress.update(1)
        if not merge_reports(report, ranks):
            return 0
    return report.finish()
