"""Transcripts with word timings, and writing them as text, JSON, subtitles (SRT, WebVTT) and TSV.

One :class:`Transcript` per recording is what recognition produces; every output format is rendered from it
here, so all of them agree on the text and the timings. Each file is written atomically, so a batch job that
is interrupted can skip the recordings whose outputs all exist (:func:`outputs_exist`) and redo the rest.
"""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from speech.audio import atomic_output
from speech.errors import SpeechError
from speech.fields import items, mapping, number, present, string

FORMATS = ("txt", "json", "srt", "vtt", "tsv")

MAX_LINE_CHARS = 42  # the usual subtitle guideline (Netflix, BBC): readable at a glance
MAX_CUE_SECONDS = 6.0
CLAUSE_END = (".", ",", ";", ":", "?", "!", "…")


@dataclass(frozen=True)
class Word:
    """One recognised word; times in seconds from the start of the recording, confidence in [0, 1].

    JSON names them as Whisper does (``word``, ``start``, ``end``, ``probability``), so tools written for
    Whisper's output read ours; :attr:`word` and :attr:`probability` give the same names here.
    """

    text: str
    start: float
    end: float
    confidence: float

    @property
    def word(self) -> str:
        return self.text

    @property
    def probability(self) -> float:
        return self.confidence


@dataclass(frozen=True)
class Segment:
    """A stretch of speech between pauses; ``words`` may be empty when the recogniser gives no word times."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "words", tuple(self.words))  # a list would make the frozen object unhashable


@dataclass(frozen=True)
class Transcript:
    """Everything recognised in one recording (``source``, ``duration`` seconds long)."""

    source: str
    duration: float
    segments: tuple[Segment, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", tuple(self.segments))

    @property
    def text(self) -> str:
        """The segments' texts joined by single spaces (blank segments left out, so no double spaces)."""
        return " ".join(text for segment in self.segments if (text := _clean(segment.text)))

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(word for segment in self.segments for word in segment.words)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data; ``text`` is added for readers' convenience and ignored by :meth:`from_dict`."""
        return {
            "source": self.source,
            "duration": self.duration,
            "text": self.text,
            "segments": [
                {
                    "start": segment.start,
                    "end": segment.end,
                    "text": segment.text,
                    "words": [
                        {"word": w.text, "start": w.start, "end": w.end, "probability": w.confidence}
                        for w in segment.words
                    ],
                }
                for segment in self.segments
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transcript:
        """Inverse of :meth:`to_dict`; malformed data raises :class:`SpeechError` saying which field is wrong.

        Words written before version 0.2 (``text`` and ``confidence`` for ``word`` and ``probability``) are
        read too, so transcripts already on disk stay usable for a release."""
        data = mapping(data, "transcript")
        source = string(data, "source", "transcript")
        where = f"transcript '{source}'"
        segments = []
        for i, item in enumerate(items(data, "segments", where)):
            place = f"{where} segment {i}"
            item = mapping(item, place)
            words = []
            for j, word in enumerate(items(item, "words", place, required=False)):
                at = f"{place} word {j}"
                word = mapping(word, at)
                words.append(
                    Word(
                        string(word, present(word, "word", "text"), at),
                        number(word, "start", at),
                        number(word, "end", at),
                        number(word, present(word, "probability", "confidence"), at),
                    )
                )
            segments.append(
                Segment(
                    number(item, "start", place),
                    number(item, "end", place),
                    string(item, "text", place),
                    tuple(words),
                )
            )
        return cls(source, number(data, "duration", where), tuple(segments))


def _clean(text: str) -> str:
    """Collapse whitespace: a stray newline or tab would end a subtitle cue or split a TSV row."""
    return " ".join(text.split())


# ---------------------------------------------------------------------------------------------- formats


def parse_formats(spec: str) -> list[str]:
    """``"txt,json"`` -> ``["txt", "json"]`` (``"all"`` means every format), as a CLI option gives them."""
    names = [name.strip().lower() for name in spec.split(",") if name.strip()]
    if not names:
        raise SpeechError(
            f"no transcript formats given: use some of {', '.join(FORMATS)} (comma-separated), or all"
        )
    return _check_formats(names)


def _check_formats(formats: Sequence[str]) -> list[str]:
    if isinstance(formats, str):  # "srt" would otherwise read as the formats s, r, t
        formats = [formats]
    if "all" in formats:  # Whisper's --output_format all
        return list(FORMATS)
    unknown = [name for name in formats if name not in FORMATS]
    if unknown:
        raise SpeechError(
            f"unknown transcript format{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(name) for name in unknown)}: use {', '.join(FORMATS)} (comma-separated), or all"
        )
    return list(dict.fromkeys(formats))


def output_paths(stem: str | Path, formats: Sequence[str]) -> list[Path]:
    """``stem`` plus each format's suffix; appended, not replaced, so a stem like ``talk.part1`` keeps its dot."""
    stem = Path(stem)
    return [stem.with_name(f"{stem.name}.{name}") for name in _check_formats(formats)]


def outputs_exist(stem: str | Path, formats: Sequence[str]) -> bool:
    """Whether every requested output is there; files are renamed into place whole, so existing means done."""
    return all(path.is_file() for path in output_paths(stem, formats))


def write_transcript(transcript: Transcript, stem: str | Path, formats: Sequence[str]) -> list[Path]:
    """Write ``stem.<format>`` for each format and return the paths.

    Everything is rendered before anything is written, so bad input (an unknown format, a non-finite time)
    leaves no partial set of outputs behind.
    """
    paths = output_paths(stem, formats)
    contents = [RENDERERS[path.suffix[1:]](transcript) for path in paths]
    for path, content in zip(paths, contents, strict=True):
        with atomic_output(path) as stream:
            stream.write(content.encode("utf-8"))
    return paths


def render_txt(transcript: Transcript) -> str:
    return transcript.text + "\n"


def render_json(transcript: Transcript) -> str:
    return json.dumps(transcript.to_dict(), indent=2, ensure_ascii=False) + "\n"


def render_tsv(transcript: Transcript) -> str:
    """One row per segment with integer milliseconds, like whisper's ``.tsv`` (easy to load in a spreadsheet)."""
    rows = ["start\tend\ttext"]
    for segment in transcript.segments:
        rows.append(f"{_milliseconds(segment.start)}\t{_milliseconds(segment.end)}\t{_clean(segment.text)}")
    return "\n".join(rows) + "\n"


def render_srt(transcript: Transcript) -> str:
    blocks = [
        f"{i}\n{_timestamp(start, ',')} --> {_timestamp(end, ',')}\n" + "\n".join(lines) + "\n"
        for i, (start, end, lines) in enumerate(subtitle_cues(transcript), start=1)
    ]
    return "\n".join(blocks)


def render_vtt(transcript: Transcript) -> str:
    blocks = [
        f"{_timestamp(start, '.')} --> {_timestamp(end, '.')}\n" + "\n".join(map(_vtt_escape, lines)) + "\n"
        for start, end, lines in subtitle_cues(transcript)
    ]
    return "\n".join(["WEBVTT\n", *blocks])


RENDERERS = {"txt": render_txt, "json": render_json, "srt": render_srt, "vtt": render_vtt, "tsv": render_tsv}


def _vtt_escape(line: str) -> str:
    """WebVTT cue text is markup: a bare ``<`` or ``&`` would be read as a tag or an entity."""
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _milliseconds(seconds: float) -> int:
    """Round half up on the decimal value as written (1.0005 s -> 1001 ms), not on its binary approximation."""
    if not math.isfinite(seconds):
        raise SpeechError(f"cannot write a transcript time of {seconds} seconds")
    exact = Decimal(repr(float(seconds))) * 1000
    return max(0, int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)))


def _timestamp(seconds: float, separator: str) -> str:
    """``HH:MM:SS,mmm`` (SRT) or ``HH:MM:SS.mmm`` (WebVTT); hours keep counting past 99 rather than wrap."""
    hours, rest = divmod(_milliseconds(seconds), 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


# ---------------------------------------------------------------------------------------------- cues


def subtitle_cues(transcript: Transcript) -> list[tuple[float, float, tuple[str, ...]]]:
    """Group words into cues ``(start, end, lines)`` that a viewer can read in time.

    A cue holds at most two lines of :data:`MAX_LINE_CHARS` characters and lasts at most
    :data:`MAX_CUE_SECONDS`, and never spans two segments: a pause is the natural place for the text to change.
    When a segment needs several cues, a break after a clause (``,`` ``.`` ...) is preferred to a full cue.
    A single word too long for the limits gets a cue of its own; a segment without word times becomes one
    cue, wrapped at the line width.
    """
    cues = []
    for segment in transcript.segments:
        words = [(text, word) for word in segment.words if (text := _clean(word.text))]
        if not words:
            if text := _clean(segment.text):
                lines = textwrap.wrap(text, MAX_LINE_CHARS, break_long_words=False, break_on_hyphens=False)
                cues.append((segment.start, max(segment.start, segment.end), tuple(lines)))
            continue
        texts = [text for text, _ in words]
        times = [word for _, word in words]
        i = 0
        while i < len(words):
            j = i + 1  # a cue always takes at least one word
            while j < len(words) and _fits(texts[i : j + 1], times[i].start, times[j].end):
                j += 1
            if j < len(words):
                clauses = [
                    k
                    for k in range(i + 1, j + 1)
                    if texts[k - 1].endswith(CLAUSE_END) and 2 * (k - i) >= j - i
                ]
                j = max(clauses, default=j)
            lines = _split_lines(texts[i:j]) or (" ".join(texts[i:j]),)
            start = times[i].start
            cues.append((start, max(start, times[j - 1].end), lines))
            i = j
    return cues


def _fits(texts: list[str], start: float, end: float) -> bool:
    return end - start <= MAX_CUE_SECONDS and _split_lines(texts) is not None


def _split_lines(texts: list[str]) -> tuple[str, ...] | None:
    """The words as one line, or two lines as even as possible; None if they need more than two lines."""
    whole = " ".join(texts)
    if len(whole) <= MAX_LINE_CHARS:
        return (whole,)
    best = None
    for k in range(1, len(texts)):
        first, second = " ".join(texts[:k]), " ".join(texts[k:])
        longest = max(len(first), len(second))
        if longest <= MAX_LINE_CHARS and (best is None or longest < best[0]):
            best = (longest, (first, second))
    return best[1] if best else None
