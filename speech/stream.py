"""Live transcription of an endless stream: cut at pauses as the audio arrives, recognise each piece once.

A bidirectional recognizer must hear a whole piece before it can say anything, so a live stream is cut into
pieces at pauses, and each piece is recognised as soon as the pause that ends it has lasted ``pause_seconds``.
A piece that reaches ``max_seconds`` without a pause is cut at its quietest moment before the limit, as
:func:`speech.segment.split_at_pauses` cuts a file. Partial hypotheses re-recognise the open piece every
``partial_seconds`` of audio.

Memory stays flat over hours: the segmenter holds at most the open piece (``max_seconds``) plus a short lead-in,
and a fixed window of frame energies for the noise floor. The command line (``speech transcribe --stream``) and
the server's WebSocket endpoint both drive :class:`LiveTranscriber`, so they cut and print alike.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from speech.errors import SpeechError
from speech.segment import FRAME_SECONDS, SILENCE_DB, frame_energy, split_at_pauses
from speech.transcript import Segment, Transcript, Word

PAUSE_SECONDS = 0.5  # a shorter gap is a breath between words; a sentence pause is longer
MAX_SECONDS = 15.0  # the recognizer's training utterances are a few seconds to ~20 s long
LEAD_SECONDS = 0.2  # audio kept before the first loud frame: the onset of a soft consonant
MARGIN_DB = 12.0  # a frame this far above the noise floor is speech
FLOOR_SECONDS = 30.0  # the noise floor is the quietest tenth of this much recent audio
FLOOR_EVERY = 25  # frames between noise-floor updates (a percentile per frame would cost more than the rest)


@dataclass(frozen=True)
class Partial:
    """The open piece's text so far; the next partial or final of the same piece replaces it."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Final:
    """A finished piece, times in seconds from the start of the stream."""

    segment: Segment


Event = Partial | Final


class Transcribes(Protocol):
    """What :class:`LiveTranscriber` needs of a :class:`speech.Recognizer` (so tests and servers may wrap it)."""

    def transcribe(self, sources, batch_seconds: float = ..., max_piece_seconds: float = ...) -> Iterator: ...


class PCMDecoder:
    """Raw 16-bit little-endian mono PCM bytes to float32 samples, across reads that split a sample in two."""

    def __init__(self) -> None:
        self._odd = b""

    def __call__(self, data: bytes) -> np.ndarray:
        data = self._odd + data
        usable = len(data) // 2 * 2
        self._odd = data[usable:]
        return np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / 32768.0


class _Window:
    """The most recent stretch of the stream in a fixed array, addressed by stream sample index; the
    segmenter drops what it no longer needs, so appending never grows it past ``capacity``."""

    def __init__(self, capacity: int) -> None:
        self.start = 0  # stream index of the first held sample
        self._buffer = np.zeros(capacity, np.float32)
        self._length = 0

    @property
    def end(self) -> int:
        return self.start + self._length

    def __len__(self) -> int:
        return self._length

    def append(self, samples: np.ndarray) -> None:
        if self._length + len(samples) > len(self._buffer):
            raise RuntimeError("live window overflow: the segmenter must cut before it fills")  # a bug
        self._buffer[self._length : self._length + len(samples)] = samples
        self._length += len(samples)

    def drop_before(self, index: int) -> None:
        keep = min(self._length, max(0, index - self.start))
        self._buffer[: self._length - keep] = self._buffer[keep : self._length]
        self._length -= keep
        self.start += keep

    def slice(self, start: int, end: int) -> np.ndarray:
        """A copy of stream samples [start, end)."""
        return self._buffer[start - self.start : end - self.start].copy()


class PauseSegmenter:
    """Cuts a stream of samples into pieces of speech at pauses; knows nothing of models.

    A 20 ms frame is loud when it stands :data:`MARGIN_DB` above the noise floor (the quietest tenth of the
    last :data:`FLOOR_SECONDS`) and above :data:`speech.segment.SILENCE_DB`. A piece opens at a loud frame
    (with ``lead_seconds`` before it) and closes once ``pause_seconds`` of quiet frames follow its last loud
    one, or is cut at ``max_seconds``.
    """

    def __init__(
        self,
        rate: int,
        max_seconds: float = MAX_SECONDS,
        pause_seconds: float = PAUSE_SECONDS,
        lead_seconds: float = LEAD_SECONDS,
    ) -> None:
        if not (isinstance(rate, int) and 1000 <= rate <= 384_000):
            raise SpeechError(f"sample rate must be a whole number of Hz from 1000 to 384000, got {rate!r}")
        if not (math.isfinite(max_seconds) and 1.0 <= max_seconds <= 60.0):
            raise SpeechError(f"maximum segment length must be 1 to 60 seconds, got {max_seconds!r}")
        if not (math.isfinite(pause_seconds) and 0.1 <= pause_seconds <= 5.0):
            raise SpeechError(f"pause length must be 0.1 to 5 seconds, got {pause_seconds!r}")
        self.rate = rate
        self.hop = max(1, int(rate * FRAME_SECONDS))
        self.max_samples = int(max_seconds * rate)
        self.max_seconds = max_seconds
        self.pause_frames = max(1, round(pause_seconds / FRAME_SECONDS))
        self.lead = int(lead_seconds * rate)
        self.tail = min(self.lead, self.pause_frames * self.hop)  # quiet kept after the last loud frame
        self._window = _Window(self.max_samples + 2 * self.lead + 4 * self.hop)
        self._pending = np.zeros(0, np.float32)  # samples short of a whole frame
        self._energies: deque[float] = deque(maxlen=int(FLOOR_SECONDS / FRAME_SECONDS))
        self._floor = SILENCE_DB
        self._frames = 0
        self.piece_start: int | None = None  # stream index where the open piece starts; None between pieces
        self._quiet = 0  # quiet frames since the last loud one

    @property
    def buffered_samples(self) -> int:
        """Samples held now; never more than ``max_seconds`` plus a lead-in and a frame."""
        return len(self._window) + len(self._pending)

    @property
    def position(self) -> int:
        """Stream samples consumed so far (whole frames)."""
        return self._window.end

    def open_piece(self) -> tuple[int, np.ndarray] | None:
        """(start, samples) of the piece being heard, for a partial hypothesis."""
        if self.piece_start is None:
            return None
        return self.piece_start, self._window.slice(self.piece_start, self._window.end)

    def push(self, samples: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """Take more of the stream; return the pieces it finished, as (start sample, samples)."""
        samples = np.concatenate([self._pending, np.asarray(samples, dtype=np.float32)])
        whole = len(samples) // self.hop * self.hop
        self._pending = samples[whole:]
        energies = frame_energy(samples[:whole], self.rate)
        pieces = []
        for number, energy in enumerate(energies):
            frame = samples[number * self.hop : (number + 1) * self.hop]
            if (piece := self._frame(frame, float(energy))) is not None:
                pieces.append(piece)
        return pieces

    def flush(self) -> list[tuple[int, np.ndarray]]:
        """The end of the stream: the open piece, if any, is finished as it is."""
        self._window.append(self._pending)
        self._pending = np.zeros(0, np.float32)
        if self.piece_start is None:
            return []
        piece = self._cut(self._window.end)
        self.piece_start = None
        return [piece] if len(piece[1]) else []

    def _frame(self, frame: np.ndarray, energy: float) -> tuple[int, np.ndarray] | None:
        self._window.append(frame)
        self._energies.append(energy)
        self._frames += 1
        if self._frames % FLOOR_EVERY == 0 or self._frames == 1:
            self._floor = float(np.percentile(np.fromiter(self._energies, float), 10))
        loud = energy >= max(SILENCE_DB, self._floor + MARGIN_DB)
        end = self._window.end
        if self.piece_start is None:
            if loud:
                self.piece_start = max(self._window.start, end - self.hop - self.lead)
                self._quiet = 0
            elif len(self._window) > 2 * self.lead + self.hop:
                self._window.drop_before(end - self.lead)  # only a lead-in is kept between pieces
            return None
        self._quiet = 0 if loud else self._quiet + 1
        if self._quiet >= self.pause_frames:
            last_loud_end = end - self._quiet * self.hop
            piece = self._cut(last_loud_end + self.tail)
            self.piece_start = None
            return piece
        if end - self.piece_start > self.max_samples:
            audio = self._window.slice(self.piece_start, end)
            search = min(5.0, self.max_seconds / 3)
            (_, cut), *_ = split_at_pauses(audio, self.rate, self.max_seconds, search)
            return self._cut(self.piece_start + cut, keep_open=True)
        return None

    def _cut(self, cut: int, keep_open: bool = False) -> tuple[int, np.ndarray]:
        start = self.piece_start
        piece = (start, self._window.slice(start, cut))
        self._window.drop_before(cut)
        if keep_open:
            self.piece_start = cut
        return piece


class LiveTranscriber:
    """A stream in, :class:`Partial` and :class:`Final` events out, as soon as each is known.

    ``feed`` takes float32 samples at ``rate`` (any rate: the recognizer resamples) and returns the events
    they complete; ``finish`` ends the stream. Each finished piece is recognised once, alone, so its text
    does not depend on how the stream was chunked into reads.
    """

    def __init__(
        self,
        recognizer: Transcribes,
        rate: int = 16000,
        partial_seconds: float | None = None,
        max_seconds: float = MAX_SECONDS,
        pause_seconds: float = PAUSE_SECONDS,
    ) -> None:
        if partial_seconds is not None and not (math.isfinite(partial_seconds) and partial_seconds >= 0.1):
            raise SpeechError(f"partial interval must be at least 0.1 seconds, got {partial_seconds!r}")
        self.recognizer = recognizer
        self.segmenter = PauseSegmenter(rate, max_seconds, pause_seconds)
        self.rate = rate
        self.partial_every = None if partial_seconds is None else int(partial_seconds * rate)
        self._since_partial = 0

    def feed(self, samples: np.ndarray) -> list[Event]:
        events: list[Event] = [Final(s) for s in map(self._recognise, self.segmenter.push(samples)) if s]
        if self.partial_every is None:
            return events
        open_piece = self.segmenter.open_piece()
        if open_piece is None or events:
            self._since_partial = 0
            return events
        self._since_partial += len(samples)
        if self._since_partial >= self.partial_every:
            self._since_partial = 0
            if segment := self._recognise(open_piece):
                events.append(Partial(segment.start, segment.end, segment.text))
        return events

    def finish(self) -> list[Event]:
        return [Final(segment) for segment in map(self._recognise, self.segmenter.flush()) if segment]

    def _recognise(self, piece: tuple[int, np.ndarray]) -> Segment | None:
        """The piece's one segment in stream time, or None when nothing was heard in it."""
        start, samples = piece
        (result,) = self.recognizer.transcribe(
            [(samples, self.rate)], max_piece_seconds=self.segmenter.max_seconds + 1
        )
        if result.error:
            raise SpeechError(result.error)
        return shift(result.transcript, start / self.rate)


def shift(transcript: Transcript, offset: float) -> Segment | None:
    """A piece's transcript as one segment, its times moved by ``offset`` seconds; None if it has no text."""
    text = transcript.text
    if not text:
        return None
    words = tuple(
        Word(w.text, round(w.start + offset, 3), round(w.end + offset, 3), w.confidence)
        for w in transcript.words
    )
    end = offset + transcript.duration
    return Segment(round(offset, 3), round(end, 3), text, words)
