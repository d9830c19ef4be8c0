"""Turn the corpus layouts people already have into the toolkit's manifest.

One function per layout, ``import_xxx(source, **options) -> ImportResult``. A corpus of thousands of files
always has a few bad ones (a truncated download, an empty file, a line without a transcript); those are listed
in :attr:`ImportResult.skipped` with a one-line reason and the rest imports, so a single broken clip never
stops a preparation run. Only a source that is not the layout at all (no index file, missing columns) raises
:class:`CorpusError`.

Transcripts are kept as the corpus writes them (case, punctuation, numbers); only runs of whitespace are
collapsed and sentence markers such as Sphinx's ``<s>``/``</s>`` removed. Normalisation happens at training,
so the manifest can serve several text front ends. Audio paths in the manifest are absolute.
"""

from __future__ import annotations

import contextvars
import csv
import inspect
import io
import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from speech.audio import AUDIO_SUFFIXES, AudioError, AudioInfo, audio_info, is_audio_file
from speech.data.manifest import Utterance
from speech.errors import SpeechError

logger = logging.getLogger(__name__)


# A segment may overshoot its recording by this much (rounding in hand-made ``segments`` files); it is clipped.
SEGMENT_TOLERANCE = 0.1


class CorpusError(SpeechError):
    """The source is not the layout asked for (no index file, missing columns); the message names the file."""


@dataclass
class ImportResult:
    """What an importer found: usable utterances, and ``(path or id, reason)`` for every entry left out."""

    utterances: list[Utterance] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def duration(self) -> float:
        """Total seconds of audio imported."""
        return sum(utterance.duration for utterance in self.utterances)


# Called once per corpus entry while :func:`import_corpus` runs with ``progress``: a context variable rather
# than a parameter of every importer, whose signatures are the options ``speech prepare`` offers.
_entry_seen: contextvars.ContextVar[Callable[[], object] | None] = contextvars.ContextVar(
    "_entry_seen", default=None
)


class _Builder:
    """The one place that turns (id, audio, text, speaker, offset, duration) into an Utterance or a skip.

    Every importer feeds it, so the checks (audio readable, transcript present, ids unique, segments inside
    their recording) and the skip reasons are the same for every layout.
    """

    def __init__(self) -> None:
        self.result = ImportResult()
        self._ids: set[str] = set()
        self._infos: dict[Path, AudioInfo | AudioError] = {}
        self._seen = _entry_seen.get() or (lambda: None)

    def skip(self, where: str | os.PathLike, reason: str) -> None:
        self._seen()  # each entry is skipped or added, once
        self.result.skipped.append((str(where), reason))

    def _info(self, path: Path) -> AudioInfo | AudioError:
        # Segments share a recording: read its header once.
        if path not in self._infos:
            try:
                self._infos[path] = audio_info(path)
            except AudioError as error:
                self._infos[path] = error
        return self._infos[path]

    def add(
        self,
        id: str,
        audio: str | os.PathLike,
        text: str | None,
        speaker: str = "",
        offset: float = 0.0,
        duration: float | None = None,
    ) -> None:
        path = Path(os.path.abspath(audio))
        if text is None:
            self.skip(path, f"no transcript for '{id}'")
            return
        text = " ".join(text.split())
        if not text:
            self.skip(path, f"empty transcript for '{id}'")
            return
        if id in self._ids:
            self.skip(path, f"duplicate id '{id}' (the first one is kept)")
            return
        info = self._info(path)
        if isinstance(info, AudioError):
            self.skip(path, info.problem)
            return
        if offset < 0 or offset >= info.duration:
            self.skip(
                path, f"segment '{id}' starts at {offset:.2f}s, outside the recording ({info.duration:.2f}s)"
            )
            return
        available = info.duration - offset
        if duration is None:
            duration = available
        elif duration <= 0:
            self.skip(path, f"segment '{id}' has no length ({duration:.2f}s)")
            return
        elif duration > available + SEGMENT_TOLERANCE:
            self.skip(
                path,
                f"segment '{id}' ends at {offset + duration:.2f}s, past the end of the recording "
                f"({info.duration:.2f}s)",
            )
            return
        self._ids.add(id)
        self._seen()
        self.result.utterances.append(
            Utterance(
                id=id,
                audio=str(path),
                duration=round(min(duration, available), 6),
                text=text,
                speaker=speaker,
                offset=round(offset, 6),
            )
        )

    def finish(self, source: Path, layout: str) -> ImportResult:
        logger.debug(
            "%s (%s): %d utterances, %d skipped",
            source,
            layout,
            len(self.result.utterances),
            len(self.result.skipped),
        )
        return self.result


# --- reading index files ------------------------------------------------------------------------------------


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise CorpusError(f"{path}: not found ({what})")
    return path


def _decode(path: Path, builder: _Builder | None = None) -> str:
    """A text file's contents; a BOM (files saved by spreadsheet programs) is dropped.

    With ``builder``, a line that is not UTF-8 (one mis-encoded transcript in a large index) is reported as a
    skipped entry and read as blank, so the line numbers of the rest hold; a file that is mostly not UTF-8 is
    in another encoding altogether and is refused whole.
    """
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CorpusError(f"{path}: cannot read ({error.strerror})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        whole = CorpusError(
            f"{path}: not UTF-8 text (byte {error.start}); convert it, e.g. iconv -f latin1 -t utf-8"
        )
        if builder is None:
            raise whole from None
    lines = data.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    decoded: list[str] = []
    bad: list[tuple[int, str]] = []
    for number, raw in enumerate(lines, start=1):
        try:
            decoded.append(raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            bad.append(
                (number, f"not UTF-8 text (byte 0x{raw[error.start]:02x} at column {error.start + 1})")
            )
            decoded.append("")
    if 2 * len(bad) > sum(1 for raw in lines if raw.strip()):
        raise whole
    for number, reason in bad:
        builder.skip(f"{path}:{number}", f"{reason}; the line is left out")
    return "\n".join(decoded)


def _lines(path: Path, builder: _Builder | None = None) -> list[tuple[int, str]]:
    """Non-blank lines with their numbers (``builder``: see :func:`_decode`)."""
    text = _decode(path, builder)
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _table(path: Path, builder: _Builder | None = None) -> dict[str, str]:
    """A Kaldi-style ``key rest-of-line`` file as a dict (a key with nothing after it maps to '')."""
    table: dict[str, str] = {}
    for _, line in _lines(path, builder):
        key, _, rest = line.partition(" ")
        table[key] = rest.strip()
    return table


def _rows(
    path: Path, delimiter: str, quoting: int = csv.QUOTE_MINIMAL, builder: _Builder | None = None
) -> tuple[list[str], list[dict[str, str]]]:
    """A delimited file with a header row: (column names, rows) (``builder``: see :func:`_decode`)."""
    text = _decode(path, builder)
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
        rows = list(reader)
        return list(reader.fieldnames or []), rows
    except csv.Error as error:
        raise CorpusError(f"{path}: not a valid delimited file ({error})") from None


def _check_columns(path: Path, columns: list[str], wanted: Iterable[str]) -> None:
    missing = [name for name in wanted if name not in columns]
    if missing:
        found = ", ".join(columns) if columns else "none"
        raise CorpusError(f"{path}: no column {', '.join(repr(name) for name in missing)} (columns: {found})")


def _source_dir(source: Path) -> Path:
    source = Path(source)
    if not source.is_dir():
        raise CorpusError(f"{source}: not a folder" if source.exists() else f"{source}: not found")
    return source


def _relative_id(path: Path, base: Path) -> str:
    """An id unique within a folder tree: the path below ``base`` without its suffix, parts joined by '-'."""
    try:
        parts = path.with_suffix("").relative_to(base).parts
    except ValueError:
        parts = (path.stem,)
    return "-".join(parts)


# --- layouts ------------------------------------------------------------------------------------------------


def import_librispeech(source: Path) -> ImportResult:
    """LibriSpeech: ``speaker/chapter/*.flac`` with one ``speaker-chapter.trans.txt`` per chapter.

    ``source`` may be one subset (``train-clean-100``) or a folder holding several; every transcript file
    below it is read. Audio files that no transcript mentions are reported as skipped.
    """
    source = _source_dir(source)
    transcripts = sorted(source.rglob("*.trans.txt"))
    if not transcripts:
        raise CorpusError(f"{source}: no *.trans.txt files below it; is this a LibriSpeech folder?")
    builder = _Builder()
    used: set[Path] = set()
    for transcript in transcripts:
        for id, text in _table(transcript, builder).items():
            audio = transcript.parent / f"{id}.flac"
            if not audio.exists() and (transcript.parent / f"{id}.wav").exists():
                audio = transcript.parent / f"{id}.wav"
            used.add(audio)
            builder.add(id, audio, text, speaker=id.split("-")[0])
    for audio in sorted(source.rglob("*")):
        if is_audio_file(audio) and audio not in used:
            builder.skip(os.path.abspath(audio), "no transcript in a *.trans.txt beside it")
    return builder.finish(source, "librispeech")


def import_ljspeech(source: Path) -> ImportResult:
    """LJSpeech: ``metadata.csv`` (``id|text|normalized text``) and ``wavs/ID.wav``; one speaker.

    The normalized column (numbers and abbreviations spelled out) is used when present and not empty, since it
    is what was actually read aloud.
    """
    source = _source_dir(source)
    metadata = _require(source / "metadata.csv", "LJSpeech metadata")
    builder = _Builder()
    for number, line in _lines(metadata, builder):
        fields = line.split("|")
        if len(fields) < 2 or not fields[0].strip():
            builder.skip(f"{metadata}:{number}", "expected 'id|text|normalized text'")
            continue
        id = fields[0].strip()
        text = fields[2] if len(fields) > 2 and fields[2].strip() else fields[1]
        builder.add(id, source / "wavs" / f"{id}.wav", text, speaker="ljspeech")
    return builder.finish(source, "ljspeech")


def import_commonvoice(source: Path, split: str = "train") -> ImportResult:
    """Mozilla Common Voice: a locale folder with ``clips/`` and one TSV per split; speaker is ``client_id``.

    ``split`` names the TSV ("train", "dev", "test", "validated", ... or a file name ending in .tsv).
    """
    source = _source_dir(source)
    name = split if split.endswith(".tsv") else f"{split}.tsv"
    index = source / name
    if not index.is_file():
        available = sorted(path.stem for path in source.glob("*.tsv"))
        known = f" (splits here: {', '.join(available)})" if available else ""
        raise CorpusError(f"{index}: not found{known}")
    # Sentences contain quote characters that are text, not CSV quoting.
    builder = _Builder()
    columns, rows = _rows(index, "\t", quoting=csv.QUOTE_NONE, builder=builder)
    _check_columns(index, columns, ("client_id", "path", "sentence"))
    for number, row in enumerate(rows, start=2):
        clip = (row.get("path") or "").strip()
        if not clip:
            builder.skip(f"{index}:{number}", "no clip path")
            continue
        audio = source / "clips" / clip
        if not audio.suffix and not audio.exists():
            audio = audio.with_suffix(".mp3")  # the earliest releases list clips without their suffix
        builder.add(Path(clip).stem, audio, row.get("sentence"), speaker=(row.get("client_id") or "").strip())
    return builder.finish(source, "commonvoice")


def _resolve(path: str, bases: Iterable[Path]) -> Path:
    """A relative path from a Kaldi file: Kaldi means the recipe folder, so try each likely base in turn."""
    candidate = Path(path)
    if candidate.is_absolute():
        return candidate
    bases = list(bases)
    for base in bases:
        if (base / candidate).exists():
            return base / candidate
    return bases[0] / candidate


def import_kaldi(source: Path) -> ImportResult:
    """A Kaldi data folder: ``wav.scp``, ``text``, optional ``utt2spk`` and ``segments``.

    With ``segments`` each utterance is a stretch (start to end seconds; an end of -1 means the end of the
    recording) of a ``wav.scp`` recording. ``wav.scp`` entries that are command pipes (``sph2pipe ... |``)
    cannot be read without running them, so they are skipped; convert those recordings to files first.
    Relative paths are tried against the data folder, the current folder and the recipe folder above ``data/``.
    """
    source = _source_dir(source)
    builder = _Builder()
    recordings = _table(_require(source / "wav.scp", "Kaldi recording list"), builder)
    texts = _table(_require(source / "text", "Kaldi transcripts"), builder)
    speakers = _table(source / "utt2spk", builder) if (source / "utt2spk").exists() else {}
    bases = [source, Path.cwd(), source.parent.parent]

    audio: dict[str, Path] = {}
    for recording, location in recordings.items():
        if location.endswith("|"):
            builder.skip(recording, f"wav.scp entry is a command pipe ('{location}'), not a file")
        elif not location:
            builder.skip(recording, "wav.scp entry has no path")
        else:
            audio[recording] = _resolve(location, bases)

    listed: set[str] = set()
    segments = source / "segments"
    if segments.exists():
        for number, line in _lines(segments, builder):
            fields = line.split()
            where = f"{segments}:{number}"
            if len(fields) != 4:
                builder.skip(where, "expected 'utterance recording start end'")
                continue
            id, recording, start, end = fields
            listed.add(id)
            try:
                start_s, end_s = float(start), float(end)
            except ValueError:
                builder.skip(where, f"start/end are not numbers ('{start}', '{end}')")
                continue
            if recording not in audio:
                if recording not in recordings:
                    builder.skip(id, f"recording '{recording}' is not in wav.scp")
                continue  # a pipe entry: already reported once for the recording
            duration = None if end_s == -1 else end_s - start_s
            builder.add(id, audio[recording], texts.get(id), speakers.get(id, ""), start_s, duration)
    else:
        for id, path in audio.items():
            listed.add(id)
            builder.add(id, path, texts.get(id), speakers.get(id, ""))
        listed.update(recordings)
    for id in texts:
        if id not in listed:
            builder.skip(
                id, "has a transcript but no audio in " + ("segments" if segments.exists() else "wav.scp")
            )
    return builder.finish(source, "kaldi")


def import_folder(source: Path) -> ImportResult:
    """Any folder tree of audio files, each with a same-name ``.txt`` transcript beside it.

    The speaker is the name of the folder holding the file; the id is the path below ``source`` without its
    suffix, parts joined by '-', so files with the same name in different folders stay distinct.
    """
    source = _source_dir(source)
    builder = _Builder()
    found = False
    for audio in sorted(source.rglob("*")):
        if any(part.startswith(".") for part in audio.relative_to(source).parts) or not is_audio_file(audio):
            continue
        found = True
        transcript = audio.with_suffix(".txt")
        try:
            text = transcript.read_text(encoding="utf-8-sig") if transcript.is_file() else None
        except UnicodeDecodeError as error:
            builder.skip(transcript, f"transcript is not UTF-8 text (byte {error.start})")
            continue
        except OSError as error:
            builder.skip(transcript, f"cannot read transcript ({error.strerror})")
            continue
        if text is None:
            builder.skip(os.path.abspath(audio), f"no transcript ({transcript.name} not found)")
            continue
        builder.add(_relative_id(audio, source), audio, text, speaker=audio.parent.name)
    if not found:
        raise CorpusError(f"{source}: no audio files ({', '.join(AUDIO_SUFFIXES)}) below it")
    return builder.finish(source, "folder")


def import_csv(
    source: Path,
    audio_column: str = "audio",
    text_column: str = "text",
    speaker_column: str | None = None,
    delimiter: str = ",",
) -> ImportResult:
    """A delimited file with a header row naming the audio, transcript and (optionally) speaker columns.

    Relative audio paths are resolved against the CSV's folder, so the table can travel with its audio. The id
    is the audio path (relative to that folder where it lies below it) without its suffix.
    """
    source = Path(source)
    if not source.is_file():
        raise CorpusError(f"{source}: not a file" if source.exists() else f"{source}: not found")
    builder = _Builder()
    columns, rows = _rows(source, delimiter, builder=builder)
    _check_columns(
        source, columns, [audio_column, text_column] + ([speaker_column] if speaker_column else [])
    )
    base = source.parent.absolute()
    for number, row in enumerate(rows, start=2):
        location = (row.get(audio_column) or "").strip()
        if not location:
            builder.skip(f"{source}:{number}", f"no audio path in column '{audio_column}'")
            continue
        audio = Path(os.path.normpath(Path(location) if Path(location).is_absolute() else base / location))
        speaker = (row.get(speaker_column) or "").strip() if speaker_column else ""
        builder.add(_relative_id(audio, base), audio, row.get(text_column), speaker=speaker)
    return builder.finish(source, "csv")


_SPHINX_LINE = re.compile(r"^(?P<text>.*?)\s*\((?P<id>[^()]+)\)\s*$")
_SPHINX_MARKERS = re.compile(r"</?s>|<sil>", re.IGNORECASE)


def _sphinx_pairs(source: Path) -> list[tuple[Path | None, Path]]:
    """(fileids, transcription) pairs in a folder: the plain names and any ``NAME.fileids``/``NAME.transcription``."""
    pairs: list[tuple[Path | None, Path]] = []
    if (source / "transcription").is_file():
        pairs.append(
            ((source / "fileids") if (source / "fileids").is_file() else None, source / "transcription")
        )
    for transcription in sorted(source.glob("*.transcription")):
        fileids = transcription.with_suffix(".fileids")
        pairs.append((fileids if fileids.is_file() else None, transcription))
    return pairs


def import_sphinx(source: Path) -> ImportResult:
    """The CMU Sphinx test layout: ``fileids`` + ``transcription`` (or ``NAME.fileids``/``NAME.transcription``).

    Transcription lines look like ``<s> he was not an ill disposed young man </s> (ID)``; the audio is
    ``ID.wav`` beside them or in ``wav/``. Without a fileids file every transcribed id is imported.
    """
    source = _source_dir(source)
    pairs = _sphinx_pairs(source)
    if not pairs:
        raise CorpusError(
            f"{source}: no 'transcription' or '*.transcription' file; is this a Sphinx test folder?"
        )
    builder = _Builder()
    for fileids, transcription in pairs:
        texts: dict[str, str] = {}
        for number, line in _lines(transcription, builder):
            match = _SPHINX_LINE.match(line)
            if match is None:
                builder.skip(f"{transcription}:{number}", "expected '<s> text </s> (id)'")
                continue
            texts[match["id"].strip()] = _SPHINX_MARKERS.sub(" ", match["text"])
        ids = [line for _, line in _lines(fileids)] if fileids else list(texts)
        for file_id in ids:
            name = Path(file_id).name
            candidates = [source / f"{file_id}.wav", source / "wav" / f"{file_id}.wav"]
            audio = next((path for path in candidates if path.exists()), candidates[0])
            builder.add(name, audio, texts.get(file_id, texts.get(name)))
    return builder.finish(source, "sphinx")


IMPORTERS: dict[str, Callable[..., ImportResult]] = {
    "librispeech": import_librispeech,
    "ljspeech": import_ljspeech,
    "commonvoice": import_commonvoice,
    "kaldi": import_kaldi,
    "folder": import_folder,
    "csv": import_csv,
    "sphinx": import_sphinx,
}


def importer_options(format: str) -> list[str]:
    """The keyword options an importer accepts (besides ``source``), e.g. ``['split']`` for commonvoice."""
    return [name for name in inspect.signature(IMPORTERS[format]).parameters if name != "source"]


def import_corpus(
    format: str,
    source: str | os.PathLike,
    progress: Callable[[], object] | None = None,
    **options: object,
) -> ImportResult:
    """Run the importer for ``format``, refusing unknown formats and options that do not apply to it;
    ``progress`` is called once per corpus entry (each entry's audio header is read: the slow part)."""
    if format not in IMPORTERS:
        raise CorpusError(f"unknown corpus format '{format}' (known: {', '.join(IMPORTERS)})")
    accepted = importer_options(format)
    unknown = [name for name in options if name not in accepted]
    if unknown:
        allowed = ", ".join(accepted) if accepted else "none"
        raise CorpusError(
            f"option {', '.join(unknown)} does not apply to format '{format}' (its options: {allowed})"
        )
    token = _entry_seen.set(progress)
    try:
        return IMPORTERS[format](Path(source), **options)
    finally:
        _entry_seen.reset(token)
