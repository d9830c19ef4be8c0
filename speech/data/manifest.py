"""The one corpus format every tool reads: JSON Lines, one utterance per line.

A line looks like ``{"id": "84-121123-0000", "audio": "/data/84-121123-0000.flac", "duration": 4.2,
"text": "go do you hear", "speaker": "84"}``, with ``offset`` (seconds) added when the utterance is a
segment of a longer recording, and ``phonemes`` with per-phoneme ``durations`` (feature frames) once a corpus
has been aligned for speech synthesis (``speech align``). Relative audio paths are resolved against the manifest's own folder, so a
corpus folder can be moved as a whole.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from speech.audio import atomic_output
from speech.errors import SpeechError, shown
from speech.fields import items, label, number, string


class ManifestError(SpeechError):
    """A manifest line that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Utterance:
    id: str
    audio: str
    duration: float
    text: str
    speaker: str = ""
    offset: float = 0.0
    phonemes: tuple[str, ...] | None = None  # the synthesiser's input tokens, from `speech align`
    durations: tuple[int, ...] | None = None  # feature frames per phoneme, summing to the utterance's frames
    frame_shift: float | None = None  # seconds per duration frame (hop / rate), so a changed hop is caught

    def to_json(self) -> str:
        record = asdict(self)
        for key in ("offset", "phonemes", "durations", "frame_shift"):
            if not record[key]:
                del record[key]
        return json.dumps(record, ensure_ascii=False)


_REQUIRED = ("id", "audio", "duration", "text")


def parse_line(line: str, base: Path, where: str) -> Utterance:
    """One manifest line as an :class:`Utterance`; a value of the wrong type (``"audio": 123``,
    ``"text": ["a"]``, a negative or non-finite ``duration`` or ``offset``) is a :class:`ManifestError`."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ManifestError(f"{where}: not valid JSON ({error.msg})") from None
    except RecursionError:
        raise ManifestError(f"{where}: not valid JSON (nested too deeply)") from None
    if not isinstance(record, dict):
        raise ManifestError(f"{where}: expected a JSON object")
    missing = [key for key in _REQUIRED if key not in record]
    if missing:
        raise ManifestError(f"{where}: missing {', '.join(missing)}")
    try:
        audio = Path(_path(record, where))
        utterance = Utterance(
            id=label(record, "id", where),
            audio=str(audio if audio.is_absolute() else base / audio),
            duration=number(record, "duration", where, minimum=0),
            text=string(record, "text", where),
            speaker=label(record, "speaker", where) if "speaker" in record else "",
            offset=number(record, "offset", where, minimum=0) if "offset" in record else 0.0,
            phonemes=_each(record, "phonemes", str, where),
            durations=_each(record, "durations", int, where),
            frame_shift=number(record, "frame_shift", where, minimum=0) if "frame_shift" in record else None,
        )
    except SpeechError as error:
        raise ManifestError(str(error)) from None
    if utterance.phonemes is not None and len(utterance.phonemes) != len(utterance.durations or ()):
        raise ManifestError(f"{where}: needs one duration per phoneme")
    return utterance


def _path(record: dict, where: str) -> str:
    audio = string(record, "audio", where)
    if not audio or "\0" in audio:
        raise SpeechError(f"{where}: 'audio' must be a file path, got {audio!r}")
    return audio


def _each(record: dict, key: str, kind: type, where: str) -> tuple | None:
    """An optional list whose every element is a ``kind`` (not a bool), as a tuple; None if absent or empty."""
    if not record.get(key):
        return None
    values = items(record, key, where)
    wrong = [value for value in values if not isinstance(value, kind) or isinstance(value, bool)]
    if wrong:
        raise SpeechError(f"{where}: '{key}' must hold only {kind.__name__}s, got {wrong[0]!r}")
    return tuple(values)


def read_manifest(path: str | os.PathLike) -> Iterator[Utterance]:
    """Stream utterances from a manifest, skipping blank lines."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    with path.open(encoding="utf-8") as stream:
        for line_number, line in enumerate(stream, start=1):
            if line.strip():
                yield parse_line(line, path.parent.resolve(), f"{shown(path)}:{line_number}")


def write_manifest(path: str | os.PathLike, utterances: Iterable[Utterance]) -> int:
    """Write utterances atomically; returns how many were written."""
    count = 0
    with atomic_output(path, "w") as stream:
        for utterance in utterances:
            stream.write(utterance.to_json() + "\n")
            count += 1
    return count
