"""``speech synthesize``: text files in, speech out; one file per text (or per line), resumable."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from speech.assets import TTS_VOICE
from speech.cli.report import BatchReport, note
from speech.errors import SpeechError

GROUP = 16  # texts (files or lines) synthesised together, so short lines share batches


@dataclass
class Job:
    source: str  # for messages: "a.txt" or "a.txt:3"
    text: str
    target: Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synthesize",
        help="turn text files into speech (a WAV or FLAC file per text file, or per line with --lines)",
        description="Synthesise each text file (UTF-8) into one audio file named after it, or, with --lines, "
        "each non-empty line into its own file (STEM_0001.wav for line 1, ...) plus a manifest STEM.jsonl of "
        "them, for building corpora. Long text is cut into sentences, synthesised in batches and joined with "
        "pauses. Outputs that exist are skipped (see --overwrite); text that cannot be used is reported in "
        "one line and the run goes on; the exit status is 1 if any input failed.",
    )
    parser.add_argument(
        "inputs",
        nargs="*",
        default=["-"],
        metavar="TEXT_FILE",
        help="text files, or - for standard input (default)",
    )
    parser.add_argument(
        "-o", "--out", default=".", help="folder for the audio files (default: current folder)"
    )
    parser.add_argument("--voice", default=str(TTS_VOICE), help="voice folder (default: the shipped voice)")
    parser.add_argument(
        "--vocoder",
        default=None,
        help="vocoder folder, or griffin-lim (default: the shipped vocoder if there is one, else Griffin-Lim)",
    )
    parser.add_argument(
        "--rate", type=float, default=1.0, help="speaking rate; 2 is twice as fast (default: 1)"
    )
    parser.add_argument("--lines", action="store_true", help="one audio file per line instead of per file")
    parser.add_argument(
        "--format", choices=("wav", "flac"), default="wav", help="audio format (default: wav)"
    )
    parser.add_argument("--speaker", default=None, help="speaker name, for a voice with several speakers")
    parser.add_argument("--seed", type=int, default=0, help="random seed (pre-net dropout, vocoder sampling)")
    parser.add_argument(
        "--overwrite", action="store_true", help="synthesise texts whose output already exists"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    parser.set_defaults(run=run)


def read_text(item: str) -> str:
    """A text file (or standard input for '-') as text; a missing file or bytes that are not UTF-8 raise a
    one-line SpeechError."""
    name = "standard input" if item == "-" else item
    try:
        data = sys.stdin.buffer.read() if item == "-" else Path(item).read_bytes()
    except FileNotFoundError:
        raise SpeechError(f"{name}: file not found") from None
    except OSError as error:
        raise SpeechError(f"{name}: cannot read ({error.strerror or error})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SpeechError(
            f"{name}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); "
            "convert it, e.g. iconv -f latin1 -t utf-8"
        ) from None


def run(args: argparse.Namespace) -> int:
    from speech.synthesizer import MAX_RATE, MIN_RATE, Synthesizer, unspeakable_characters  # imports torch

    if not MIN_RATE <= args.rate <= MAX_RATE:
        raise SpeechError(f"--rate must be between {MIN_RATE} and {MAX_RATE}, got {args.rate}")
    voice = Path(args.voice)
    if not (voice / "config.json").exists():
        raise SpeechError(
            f"{voice}: no voice here; train one (pipelines/voice_default/run.sh) or pass --voice FOLDER"
        )
    synthesizer = Synthesizer.load(voice, args.vocoder, args.device)
    out = Path(args.out)
    report = BatchReport(out, "synthesized")
    jobs: list[Job] = []
    manifests: dict[Path, list[tuple[str, str, Path]]] = {}  # --lines: STEM.jsonl -> (id, text, audio)
    for item in args.inputs:
        stem = "stdin" if item == "-" else Path(item).stem
        whole = out / f"{stem}.{args.format}"
        if not args.lines and item != "-" and whole.exists() and not args.overwrite:
            report.skipped += 1
            continue
        try:
            text = read_text(item)
        except SpeechError as error:
            report.failed(str(error))
            continue
        source = "standard input" if item == "-" else item
        if not args.lines:
            jobs.append(Job(source, text, whole))
            continue
        lines = text.splitlines()
        width = max(4, len(str(len(lines))))
        entries = manifests.setdefault(out / f"{stem}.jsonl", [])
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                note(f"note: {source}:{number}: empty line, skipped")
                continue
            name = f"{stem}_{number:0{width}d}"
            target = out / f"{name}.{args.format}"
            entries.append((name, line.strip(), target))
            if target.exists() and not args.overwrite and item != "-":
                report.skipped += 1
            else:
                jobs.append(Job(f"{source}:{number}", line, target))

    with tqdm(
        total=len(jobs), unit="line" if args.lines else "file", desc="synthesizing", disable=None
    ) as bar:
        for first in range(0, len(jobs), GROUP):
            group = jobs[first : first + GROUP]
            for job in group:
                dropped = unspeakable_characters(job.text)
                if dropped:
                    listed = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in dropped[:5])
                    note(f"note: {job.source}: skipped characters it cannot speak: {listed}")
            results = synthesizer.synthesize_many(
                [job.text for job in group], args.rate, args.speaker, args.seed
            )
            for job, spoken in zip(group, results, strict=True):
                if spoken.error:
                    report.failed(f"{job.source}: {spoken.error}")
                else:
                    _write(job.target, spoken.samples, synthesizer.sample_rate)
                    report.succeeded(len(spoken.samples) / synthesizer.sample_rate)
                bar.update(1)
    for path, entries in manifests.items():
        _write_manifest(path, entries)
    return report.finish()


def _write(target: Path, samples, rate: int) -> None:
    from speech.audio import write_audio

    write_audio(target, samples, rate)


def _write_manifest(path: Path, entries: list[tuple[str, str, Path]]) -> None:
    """The toolkit's manifest of the lines synthesised so far (audio relative to the manifest)."""
    import soundfile

    from speech.data.manifest import Utterance, write_manifest

    utterances = [
        Utterance(name, audio.name, round(soundfile.info(str(audio)).duration, 3), text)
        for name, text, audio in entries
        if audio.exists()
    ]
    if utterances:
        write_manifest(path, utterances)
