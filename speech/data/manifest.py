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
from speech.errors import SpeechError


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

    def to_json(self) -> str:
        record = asdict(self)
        for key in ("offset", "phonemes", "durations"):
            if not record[key]:
                del record[key]
        return json.dumps(record, ensure_ascii=False)


_REQUIRED = ("id", "audio", "duration", "text")


def parse_line(line: str, base: Path, where: str) -> Utterance:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ManifestError(f"{where}: not valid JSON ({error.msg})") from None
    if not isinstance(record, dict):
        raise ManifestError(f"{where}: expected a JSON object")
    missing = [key for key in _REQUIRED if key not in record]
    if missing:
        raise ManifestError(f"{where}: missing {', '.join(missing)}")
    audio = Path(record["audio"])
    try:
        utterance = Utterance(
            id=str(record["id"]),
            audio=str(audio if audio.is_absolute() else base / audio),
            duration=float(record["duration"]),
            text=str(record["text"]),
            speaker=str(record.get("speaker", "")),
            offset=float(record.get("offset", 0.0)),
            phonemes=tuple(map(str, record["phonemes"])) if record.get("phonemes") else None,
            durations=tuple(map(int, record["durations"])) if record.get("durations") else None,
        )
    except (TypeError, ValueError) as error:
        raise ManifestError(f"{where}: {error}") from None
    if utterance.phonemes is not None and len(utterance.phonemes) != len(utterance.durations or ()):
        raise ManifestError(f"{where}: needs one duration per phoneme")
    return utterance


def read_manifest(path: str | os.PathLike) -> Iterator[Utterance]:
    """Stream utterances from a manifest, skipping blank lines."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            if line.strip():
                yield parse_line(line, path.parent.resolve(), f"{path}:{number}")


def write_manifest(path: str | os.PathLike, utterances: Iterable[Utterance]) -> int:
    """Write utterances atomically; returns how many were written."""
    count = 0
    with atomic_output(path, "w") as stream:
        for utterance in utterances:
            stream.write(utterance.to_json() + "\n")
            count += 1
    return count
