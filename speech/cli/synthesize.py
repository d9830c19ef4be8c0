"""``speech synthesize``: text in, speech out; one file per text (or per line), resumable, or one stream.

Texts are synthesised in groups, so short lines share acoustic-model batches. A text is instead streamed,
written sentence by sentence as it is made (``Synthesizer.stream``), when ``--stream`` says so, when the
audio goes to standard output (``-o -``, ``--output-raw``: a player starts at once), or when it is longer
than STREAM_CHARS, so that a book or a 1 MB line takes bounded memory, with a progress bar over its text.
"""

from __future__ import annotations

import argparse
import select
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from tqdm import tqdm

from speech.assets import VOICES
from speech.cli.options import add_output_folder
from speech.cli.outputs import OutputNames, output_folder, safe_stem
from speech.cli.ranks import (
    add_nproc_option,
    launch,
    main_rank_notes,
    merge_reports,
    process_group,
    rank_device,
    refuse_standard_input,
    share_work,
    under_launcher,
)
from speech.cli.report import BatchReport, note
from speech.errors import SpeechError, shown

if TYPE_CHECKING:
    from speech.synthesizer import Synthesizer

GROUP = 16  # texts (files or lines) synthesised together, so short lines share batches
STREAM_CHARS = 20_000  # a longer text is streamed into its file: bounded memory, progress over its text
DEFAULT_VOICE = next(iter(VOICES))


@dataclass
class Job:
    source: str  # for messages: "a.txt" or "a.txt:3"
    text: str
    target: Path | None  # None: standard output
    # its output exists (and --overwrite is not given); left out of repr, which the ranks compare as the job
    done: bool = field(default=False, repr=False)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synthesize",
        help="turn text files into speech (a WAV or FLAC file per text file, or per line with --lines)",
        description="Synthesise each text file (UTF-8) into one audio file named after it, or, with --lines, "
        "each non-empty line into its own file (STEM_0001.wav for line 1, ...) plus a manifest STEM.jsonl of "
        "them, for building corpora. Long text is cut into sentences, synthesised in batches and joined with "
        "pauses. With -o - (or --output-raw) the audio of every input goes to standard output as it is made, "
        "e.g. speech synthesize story.txt -o - | aplay. Outputs that exist are skipped (see --overwrite); "
        "text that cannot be used is reported in one line and the run goes on; the exit status is 1 if any "
        "input failed.",
    )
    parser.add_argument(
        "inputs",
        nargs="*",
        default=["-"],
        metavar="TEXT_FILE",
        help="text files, or - for standard input (default; read line by line with --lines)",
    )
    add_output_folder(
        parser, "the audio files", help="folder for the audio files, or - for standard output (default: .)"
    )
    parser.add_argument(
        "--voice",
        default=DEFAULT_VOICE,
        help=f"a shipped voice's name (see --list-voices) or a voice folder (default: {DEFAULT_VOICE})",
    )
    parser.add_argument("--list-voices", action="store_true", help="list the shipped voices and exit")
    parser.add_argument(
        "--vocoder",
        default=None,
        help="vocoder folder, or griffin-lim (default: the shipped vocoder if there is one, else Griffin-Lim)",
    )
    parser.add_argument(
        "--rate", type=float, default=None, help="speaking rate; 2 is twice as fast (default: 1)"
    )
    parser.add_argument(
        "--length-scale",
        type=float,
        default=None,
        help="phoneme durations times this, as in Piper: 1.25 is slower (the inverse of --rate)",
    )
    parser.add_argument(
        "--sentence-silence",
        type=float,
        default=0.25,
        help="seconds of silence after each sentence (default: 0.25)",
    )
    parser.add_argument("--lines", action="store_true", help="one audio file per line instead of per file")
    parser.add_argument(
        "--format", choices=("wav", "flac"), default="wav", help="audio format (default: wav)"
    )
    parser.add_argument(
        "--stream", action="store_true", help="write each text's audio as its sentences are ready"
    )
    parser.add_argument(
        "--output-raw",
        action="store_true",
        help="raw 16-bit mono PCM on standard output, as in Piper (implies -o -)",
    )
    parser.add_argument("--speaker", default=None, help="speaker name, for a voice with several speakers")
    parser.add_argument("--seed", type=int, default=0, help="random seed (pre-net dropout, vocoder sampling)")
    parser.add_argument(
        "--overwrite", action="store_true", help="synthesise texts whose output already exists"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    add_nproc_option(parser)
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
    return decode(data, name)


def decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SpeechError(
            f"{name}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); "
            "convert it, e.g. iconv -f latin1 -t utf-8"
        ) from None


def voice_folder(voice: str) -> Path:
    """A shipped voice's folder by name, or a voice folder."""
    folder = VOICES.get(voice, Path(voice))
    if not (folder / "config.json").exists():
        raise SpeechError(
            f"{shown(voice)}: no voice here (shipped voices: {', '.join(VOICES)}); train one "
            "(pipelines/voice/run.sh) or pass --voice FOLDER"
        )
    return folder


def list_voices() -> int:
    import json

    for number, (name, folder) in enumerate(VOICES.items()):
        if (folder / "config.json").exists():
            config = json.loads((folder / "config.json").read_text())
            speakers = config["model"].get("speakers") or []
            about = f"{len(speakers) or 1} speaker(s), {config['features']['sample_rate']} Hz"
            print(f"{name}{' (default)' if number == 0 else ''}\t{folder}\t{about}")
    return 0


def speaking_rate(args: argparse.Namespace) -> float:
    if args.length_scale is not None and args.rate is not None:
        raise SpeechError("give --rate or --length-scale, not both (--length-scale is 1 / --rate)")
    if args.length_scale is not None:
        if not args.length_scale > 0:
            raise SpeechError(f"--length-scale must be positive, got {args.length_scale}")
        return 1 / args.length_scale
    return 1.0 if args.rate is None else args.rate


class PCMStream:
    """16-bit mono PCM to a byte stream, as WAV (a header whose sizes say 'unknown length', which players
    such as aplay, sox and ffmpeg read as 'until the end') or raw."""

    def __init__(self, stream: BinaryIO, rate: int, raw: bool):
        self.stream, self.rate, self.started = stream, rate, raw
        self.samples = 0  # written so far

    def write(self, samples: np.ndarray) -> None:
        from speech.audio import pcm16, streaming_wav_header

        if not self.started:
            self.stream.write(streaming_wav_header(self.rate))
            self.started = True
        self.stream.write(pcm16(samples))
        self.stream.flush()
        self.samples += len(samples)


def run(args: argparse.Namespace) -> int:
    if args.list_voices:
        return list_voices()
    if args.nproc != 1 and not under_launcher():
        _refuse_shared_streams(args, args.nproc)
        return launch(args.nproc, args.argv)
    rate = speaking_rate(args)
    voice = voice_folder(args.voice)
    to_stdout = args.out == "-" or args.output_raw
    out = None if to_stdout else output_folder(args.out)
    from speech.synthesizer import MAX_RATE, MIN_RATE, Synthesizer  # imports torch

    if not MIN_RATE <= rate <= MAX_RATE:
        raise SpeechError(f"--rate must be between {MIN_RATE} and {MAX_RATE}, got {rate}")
    with process_group() as ranks:
        _refuse_shared_streams(args, ranks.world_size)
        synthesizer = Synthesizer.load(voice, args.vocoder, rank_device(args.device, ranks))
        report = BatchReport(out, "synthesized")
        sink = PCMStream(sys.stdout.buffer, synthesizer.sample_rate, args.output_raw) if to_stdout else None
        options = {"rate": rate, "speaker": args.speaker, "seed": args.seed}
        options["sentence_silence"] = args.sentence_silence
        manifests: dict[Path, list[tuple[str, str, Path]]] = {}  # --lines: STEM.jsonl -> (id, text, audio)
        # Every rank lists the whole job; only rank 0's report counts what the listing finds wrong.
        listing = report if ranks.is_main else BatchReport(None, "listed")
        groups: Iterable[list[Job]] = _groups(_jobs(args, out, listing, manifests))
        if ranks.enabled:
            with main_rank_notes(ranks):
                groups, finished = share_work(list(groups), _finished, _characters, ranks)
            report.skipped += sum(len(group) for group in finished)
        with tqdm(unit="line" if args.lines else "file", desc="synthesizing", disable=ranks.hide_bar) as bar:
            for group in groups:
                _synthesize_group(group, synthesizer, sink, report, options, args, bar)
        if not merge_reports(report, ranks):
            return 0
    for path, entries in manifests.items():
        _write_manifest(path, entries)
    return report.finish()


def _refuse_shared_streams(args: argparse.Namespace, processes: int) -> None:
    refuse_standard_input(args.inputs, processes)
    if processes != 1 and (args.out == "-" or args.output_raw):
        raise SpeechError("standard output cannot be shared between processes; give -o FOLDER")


def _finished(group: list[Job]) -> bool:
    return all(job.done for job in group)


def _characters(group: list[Job]) -> float:
    """A group's text length: what balances the ranks' shares (speech takes time in proportion)."""
    return float(sum(len(job.text) for job in group))


def _synthesize_group(
    group: list[Job],
    synthesizer: Synthesizer,
    sink: PCMStream | None,
    report: BatchReport,
    options: dict,
    args: argparse.Namespace,
    bar: tqdm,
) -> None:
    """One group of texts. A text's audio depends on the texts it is batched with (the pre-net's dropout
    and the vocoder's noise are drawn for the batch), so groups are fixed by position in the job and a
    group with any output missing is made again whole, its finished outputs left as they are: the missing
    ones come out byte for byte as an uninterrupted run makes them, whichever process makes them, after
    whatever stopped the last run. A streamed text stands alone."""
    if _finished(group):
        report.skipped += len(group)
        return
    for job in group:
        if not job.done:
            _note_unspeakable(job)
    streamed = [bool(sink) or args.stream or len(job.text) > STREAM_CHARS for job in group]
    batched = [job for job, stream in zip(group, streamed, strict=True) if not stream]
    if _finished(batched):  # only streamed texts are missing
        report.skipped += len(batched)
    else:
        results = synthesizer.synthesize_many([job.text for job in batched], **options)
        for job, spoken in zip(batched, results, strict=True):
            if job.done:  # made again only for its group's sake: the file holds these very bytes
                report.skipped += 1
            elif spoken.error:
                report.failed(f"{job.source}: {spoken.error}")
            else:
                _write(job.target, spoken.samples, synthesizer.sample_rate)
                report.succeeded(len(spoken.samples) / synthesizer.sample_rate)
            bar.update(1)
    for job, stream in zip(group, streamed, strict=True):
        if stream and job.done:
            report.skipped += 1
        elif stream:
            _stream(synthesizer, job, sink, report, options, args.format)
            bar.update(1)


def _jobs(
    args: argparse.Namespace,
    out: Path | None,
    report: BatchReport,
    manifests: dict[Path, list[tuple[str, str, Path]]],
) -> Iterator[Job]:
    """The texts to synthesise, in order, done ones marked; unreadable inputs reported. Standard input in
    --lines mode is read a line at a time, so lines are spoken as they arrive."""
    names = OutputNames()
    for item in args.inputs:
        source = "standard input" if item == "-" else item
        stem = names.claim(Path(item), Path("stdin" if item == "-" else safe_stem(Path(item).name)))
        if not args.lines:
            whole = None if out is None else out / f"{stem}.{args.format}"
            done = bool(whole) and item != "-" and whole.exists() and not args.overwrite
            try:
                yield Job(source, read_text(item), whole, done)
            except SpeechError as error:
                report.failed(str(error))
            continue
        try:
            lines = _stdin_lines() if item == "-" else read_text(item).splitlines()
        except SpeechError as error:
            report.failed(str(error))
            continue
        entries = manifests.setdefault(out / f"{stem}.jsonl", []) if out else []
        width = max(4, len(str(len(lines)))) if isinstance(lines, list) else 4
        for number, line in enumerate(lines, start=1):
            if isinstance(line, SpeechError):
                report.failed(f"{source}:{number}: {line}")
                continue
            if not line.strip():
                note(f"note: {source}:{number}: empty line, skipped")
                continue
            target, done = None, False
            if out is not None:
                name = f"{stem}_{number:0{width}d}"
                target = out / f"{name}.{args.format}"
                entries.append((name, line.strip(), target))
                done = target.exists() and not args.overwrite and item != "-"
            yield Job(f"{source}:{number}", line, target, done)


def _stdin_lines() -> Iterator[str | SpeechError]:
    """Standard input a line at a time; a line that is not UTF-8 comes as its error, and the rest go on."""
    for data in sys.stdin.buffer:
        try:
            yield decode(data, "line").rstrip("\r\n")
        except SpeechError as error:
            yield error


def _groups(jobs: Iterator[Job]) -> Iterator[list[Job]]:
    """Jobs in groups of up to GROUP; a group also ends when standard input has nothing more ready, so an
    interactive or slow producer hears each line at once, while a piped file is still batched."""
    group: list[Job] = []
    for job in jobs:
        group.append(job)
        if len(group) == GROUP or (job.source.startswith("standard input") and not _stdin_ready()):
            yield group
            group = []
    if group:
        yield group


def _stdin_ready() -> bool:
    try:
        return bool(select.select([sys.stdin], [], [], 0)[0])
    except (OSError, ValueError):  # not a selectable stream (tests' replaced stdin)
        return True


def _note_unspeakable(job: Job) -> None:
    from speech.synthesizer import unspeakable_characters

    dropped = unspeakable_characters(job.text[:STREAM_CHARS])
    if dropped:
        listed = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in dropped[:5])
        note(f"note: {job.source}: skipped characters it cannot speak: {listed}")


def _stream(
    synthesizer: Synthesizer,
    job: Job,
    sink: PCMStream | None,
    report: BatchReport,
    options: dict,
    format: str,
) -> None:
    """One text, written as its sentences are made: to standard output (after a sentence's silence when
    another text came before it), or into its file (atomically, so a stopped run leaves no half-written
    file), with a bar over the text for long ones."""
    from speech.audio import WRITABLE_FORMATS, atomic_output

    seconds = 0.0
    with tqdm(
        total=len(job.text),
        unit="char",
        desc=shown(job.source),
        disable=None if len(job.text) > STREAM_CHARS else True,
        leave=False,
    ) as bar:
        chunks = synthesizer.stream(job.text, progress=bar.update, **options)
        try:
            if sink is not None:
                for number, chunk in enumerate(chunks):
                    if number == 0 and sink.samples:
                        sink.write(np.zeros(int(options["sentence_silence"] * sink.rate), np.float32))
                    sink.write(chunk)
                    seconds += len(chunk) / synthesizer.sample_rate
            else:
                import soundfile

                with (
                    atomic_output(job.target) as handle,
                    soundfile.SoundFile(
                        handle,
                        "w",
                        synthesizer.sample_rate,
                        1,
                        "PCM_16",
                        format=WRITABLE_FORMATS[f".{format}"],
                    ) as sound,
                ):
                    for chunk in chunks:
                        sound.write(np.clip(chunk, -1, 1))
                        seconds += len(chunk) / synthesizer.sample_rate
        except SpeechError as error:
            report.failed(f"{job.source}: {error}")
            return
    report.succeeded(seconds)


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
