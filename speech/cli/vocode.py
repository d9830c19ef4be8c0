"""``speech vocode``: log-mel files (.npy) or audio files (copy synthesis) in, 16-bit WAV files out."""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from speech.assets import VOCODER_MODEL
from speech.audio import is_audio_file
from speech.cli.inputs import expand_inputs
from speech.cli.options import add_device_option, add_output_folder
from speech.cli.outputs import output_folder
from speech.cli.ranks import (
    add_nproc_option,
    cpu_threads,
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


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "vocode",
        help="turn log-mel frames (.npy) or audio (copy synthesis) into speech with the GRU vocoder",
        description="Generate a WAV file per input. A .npy input holds log-mel frames of shape (frames, mels) "
        "as the vocoder's feature extractor makes them; any other input is read as audio, turned into log-mel "
        "frames and back (copy synthesis, trimmed to the input's length). A file whose output exists is "
        "skipped (see --overwrite); a file that cannot be used is reported in one line and the run goes on; "
        "the exit status is 1 if any file failed.",
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help=".npy mel files or audio files, folders (searched recursively), glob patterns, @LIST files "
        "with one path per line, or - to read paths from standard input",
    )
    add_output_folder(parser, "the WAV files")
    parser.add_argument(
        "--model",
        default=str(VOCODER_MODEL),
        help="vocoder folder, or griffin-lim (default: the shipped one, speech/assets/vocoder)",
    )
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    parser.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="sampling temperature; below 1 is less noisy (default: 1)",
    )
    parser.add_argument(
        "--refine",
        type=int,
        default=None,
        help="subframe vocoder: Griffin-Lim iterations from its own phase after its output is matched to the "
        "input mel; -1 keeps the network's raw output (default: 8)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="generation threads (default: all cores, shared out between the processes of a machine)",
    )
    add_device_option(parser, " to generate on a GPU")
    parser.add_argument("--overwrite", action="store_true", help="vocode files whose output already exists")
    add_nproc_option(parser)
    parser.set_defaults(run=run)


def _usable(path: Path) -> bool:
    return path.is_file() and (path.suffix.lower() == ".npy" or is_audio_file(path))


def load_mel(path: Path):
    from speech.frames import load_npy

    return load_npy(path, str(path))


def run(args: argparse.Namespace) -> int:
    from speech.audio import write_audio

    if args.nproc != 1 and not under_launcher():
        refuse_standard_input(args.inputs, args.nproc)
        return launch(args.nproc, args.argv)
    out = output_folder(args.out)  # before the model loads: a wrong -o is found at once
    with process_group() as ranks:
        refuse_standard_input(args.inputs, ranks.world_size)
        if args.model == "griffin-lim":
            from speech.features import FeatureConfig
            from speech.vocoder.griffin_lim import GriffinLim

            vocoder = GriffinLim(FeatureConfig(), iterations=64)
        else:
            from speech.vocoder import load_vocoder  # imports torch and numba: only when the command runs

            vocoder = load_vocoder(args.model, rank_device(args.device, ranks))
        with main_rank_notes(ranks):
            jobs = [(path, out / f"{stem}.wav") for path, stem in expand_inputs(args.inputs, _usable)]
        seconds_per_frame = vocoder.features.hop_length / vocoder.sample_rate
        todo, skipped = share_work(
            jobs,
            lambda job: not args.overwrite and job[1].exists(),
            lambda job: input_seconds(job[0], seconds_per_frame),
            ranks,
        )
        threads = args.threads or (cpu_threads(ranks) if ranks.enabled else None)
        options = {"seed": args.seed, "temperature": args.temperature, "threads": threads}
        if args.refine is not None:
            from speech.vocoder.consistency import refine_option

            options["refine"] = refine_option(args.refine)
        report = BatchReport(out, "vocoded", skipped=len(skipped))
        for path, target in tqdm(todo, unit="file", desc="vocoding", disable=ranks.hide_bar):
            try:
                if path.suffix.lower() == ".npy":
                    mel = vocoder.check_mel(load_mel(path), str(path))
                    samples, rate = vocoder.vocode(mel, **options)
                else:
                    samples, rate = vocoder.copy_synthesis(path, **options)
                write_audio(target, samples, rate)
                report.succeeded(len(samples) / rate)
            except SpeechError as error:
                report.failed(str(error))
        if not merge_reports(report, ranks):
            return 0
    return report.finish()


def input_seconds(path: Path, seconds_per_frame: float) -> float:
    """An input's length from its header alone (a .npy array's shape, an audio file's header), to balance
    ranks by; 0 for an array that cannot say (it fails when read, on whichever rank gets it)."""
    if path.suffix.lower() != ".npy":
        return header_seconds(path)
    import numpy as np

    try:
        return len(np.load(path, mmap_mode="r", allow_pickle=False)) * seconds_per_frame
    except (OSError, ValueError, TypeError):
        return 0.0
