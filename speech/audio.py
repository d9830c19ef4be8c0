"""Reading, writing and resampling audio.

Every reader in the toolkit goes through :func:`read_audio`, so one place decides what counts as usable audio:
whatever libsndfile decodes (wav, flac, ogg/vorbis, opus, mp3 where the library supports it), any channel count
(averaged to mono), any sample rate (resampled with soxr), integer or float samples (returned as float32 in
[-1, 1]). Everything else raises :class:`AudioError` with a one-line message naming the file.
"""

from __future__ import annotations

import io
import math
import os
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from speech.errors import SpeechError, shown

WRITABLE_FORMATS = {".wav": "WAV", ".flac": "FLAC"}
# What counts as an audio file when a folder is searched (formats libsndfile reads).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au", ".w64")


def is_audio_file(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_SUFFIXES and path.is_file()


class AudioError(SpeechError):
    """An audio file that cannot be used; ``str(error)`` is one line naming the file and the problem."""

    def __init__(self, source: str | os.PathLike, problem: str):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{shown(self.source)}: {problem}")


class OutputError(SpeechError, OSError):
    """An output that could not be written (disk full, a file where a folder should be, ...): one line naming
    the file, so a batch job reports it and goes on. Also an ``OSError``, for code that catches those."""

    def __init__(self, target: str | os.PathLike, error: OSError):
        super().__init__(f"{target}: cannot write ({error.strerror or error})")
        self.errno = error.errno


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def _describe(error: Exception) -> str:
    """libsndfile's messages carry the path and a lot of noise; keep the part that says what is wrong."""
    text = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
    # "File does not exist or is not a regular file (possibly a pipe?)" is what libsndfile says of a file it
    # opened but whose bytes its MP3 reader rejects: callers check existence before asking it.
    markers = ("Format not recognised", "unknown format", "in an unknown format", "possibly a pipe")
    for marker in markers:
        if marker.lower() in text.lower():
            return "not a recognised audio format"
    if "No such file" in text or isinstance(error, FileNotFoundError):
        return "file not found"
    return text.split(": ")[-1] if ": " in text else text


def _wav_shortfall(path: Path) -> int:
    """Bytes a RIFF/WAVE file's data chunk promises but lacks (0 if complete or not a WAV).

    libsndfile quietly decodes a cut-off WAV as a shorter recording; a copy interrupted half-way should be
    reported, not trained on with a transcript that no longer matches.
    """
    with path.open("rb") as stream:
        if stream.read(12)[8:12] != b"WAVE":
            return 0
        while header := stream.read(8):
            if len(header) < 8:
                return 0
            chunk, size = struct.unpack("<4sI", header)
            if chunk == b"data":
                if size in (0, 0xFFFFFFFF):  # streaming writers leave the size unset
                    return 0
                return max(0, size - (path.stat().st_size - stream.tell()))
            stream.seek(size + (size & 1), os.SEEK_CUR)
    return 0


def _mp3_start(path: Path) -> bool:
    """Whether a file begins as MP3 files do: an ID3 tag, or an MPEG audio frame's 11-bit sync word."""
    with path.open("rb") as stream:
        head = stream.read(3)
    return head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """Header facts (rate, channels, length) without decoding the samples."""
    path = Path(path)
    if not path.exists():
        raise AudioError(path, "file not found")
    if path.is_dir():
        raise AudioError(path, "is a directory, not an audio file")
    if not path.is_file():  # reading a FIFO would wait for a writer
        raise AudioError(path, "not a regular file (a pipe, socket or device), not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(path, "file is empty")
    if path.suffix.lower() == ".mp3" and not _mp3_start(path):
        # libmpg123 would print its own "Note: Illegal Audio-MPEG-Header ..." lines before failing
        raise AudioError(path, "not a recognised audio format")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, ValueError) as error:
        raise AudioError(path, _describe(error)) from None
    if info.frames <= 0:
        raise AudioError(path, "contains no audio samples")
    if missing := _wav_shortfall(path):
        raise AudioError(path, f"truncated: the WAV header promises {missing} more bytes of audio")
    return AudioInfo(sample_rate=info.samplerate, channels=info.channels, frames=info.frames)


def resample(samples: np.ndarray, from_rate: float, to_rate: float) -> np.ndarray:
    """High-quality resampling (soxr 'HQ'); a no-op when the rates already agree."""
    if from_rate == to_rate:
        return samples
    return soxr.resample(samples, from_rate, to_rate, quality="HQ").astype(np.float32, copy=False)


def _finish(
    samples: np.ndarray, rate: int, source: str, sample_rate: int | None, mono: bool
) -> tuple[np.ndarray, int]:
    if samples.size == 0:
        raise AudioError(source, "contains no audio samples")
    if not np.isfinite(samples).all():
        raise AudioError(source, "contains NaN or infinite samples")
    if mono:
        samples = samples.mean(axis=1) if samples.ndim == 2 else samples
    if sample_rate is not None and rate != sample_rate:
        samples = resample(samples, rate, sample_rate)
        rate = sample_rate
    return np.ascontiguousarray(samples, dtype=np.float32), rate


def read_audio(
    path: str | os.PathLike,
    sample_rate: int | None = None,
    mono: bool = True,
    offset: float = 0.0,
    duration: float | None = None,
) -> tuple[np.ndarray, int]:
    """Decode a file to float32 samples, shape (n,) if ``mono`` else (n, channels), and its rate.

    ``sample_rate`` resamples to that rate; ``offset``/``duration`` (seconds) read a segment, as Kaldi
    ``segments`` files need, without decoding the whole recording.
    """
    info = audio_info(path)
    if not (math.isfinite(offset) and offset >= 0) or (duration is not None and not math.isfinite(duration)):
        raise AudioError(path, f"cannot read {duration} s from {offset} s: not a stretch of a recording")
    if offset >= info.duration:  # compared in seconds: 1e308 s in samples would overflow
        raise AudioError(path, f"offset {offset:.2f}s is past the end ({info.duration:.2f}s)")
    start = int(round(offset * info.sample_rate))
    stop = None if duration is None else start + int(round(min(duration, info.duration) * info.sample_rate))
    try:
        samples, rate = sf.read(str(path), start=start, stop=stop, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as error:
        raise AudioError(path, f"cannot decode: {_describe(error)}") from None
    return _finish(samples, rate, str(path), sample_rate, mono)


def decode_audio(
    data: bytes, source: str, sample_rate: int | None = None, mono: bool = True
) -> tuple[np.ndarray, int]:
    """Like :func:`read_audio` for encoded bytes held in memory (e.g. a FLAC member of a shard)."""
    if not data:
        raise AudioError(source, "file is empty")
    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as error:
        raise AudioError(source, f"cannot decode: {_describe(error)}") from None
    return _finish(samples, rate, source, sample_rate, mono)


def encode_audio(
    samples: np.ndarray,
    sample_rate: int,
    format: str = "FLAC",
    subtype: str = "PCM_16",
    compression_level: float | None = None,
) -> bytes:
    """Encode samples (float in [-1, 1]) as bytes: 16-bit FLAC or WAV by default, or any format and subtype
    libsndfile writes, lossy ones at a ``compression_level`` (0: best quality, 1: smallest)."""
    buffer = io.BytesIO()
    sf.write(
        buffer,
        np.clip(samples, -1.0, 1.0),
        sample_rate,
        format=format,
        subtype=subtype,
        compression_level=compression_level,
    )
    return buffer.getvalue()


def fit_length(samples: np.ndarray, length: int) -> np.ndarray:
    """``samples`` cut or zero-padded at the end to ``length``."""
    return np.pad(samples, (0, max(0, length - len(samples))))[:length]


def _read_umask() -> int:
    """The process umask (read once, at import: setting it to read it back is not thread-safe)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextmanager
def atomic_output(path: str | os.PathLike, mode: str = "wb") -> Iterator[io.IOBase]:
    """Open a temporary file beside ``path`` and rename it into place only if the block succeeds.

    A crash or a full disk never leaves a half-written output that a resumable job would take as done. The
    file gets the permissions a plain ``open`` would give it (mkstemp's are owner-only). An ``OSError`` while
    writing (no space left, a file where the folder should be) is raised as :class:`OutputError`, one line
    naming ``path``, so the CLI reports it instead of a traceback.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise OutputError(path, error) from None
    try:
        os.chmod(temporary, 0o666 & ~_UMASK)
        with os.fdopen(handle, mode) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError) and not isinstance(error, SpeechError):
            raise OutputError(path, error) from None
        raise


def write_audio(path: str | os.PathLike, samples: np.ndarray, sample_rate: int) -> None:
    """Write 16-bit WAV or FLAC (chosen by suffix) atomically."""
    path = Path(path)
    format = WRITABLE_FORMATS.get(path.suffix.lower())
    if format is None:
        raise AudioError(path, f"cannot write '{path.suffix}': use one of {', '.join(WRITABLE_FORMATS)}")
    data = encode_audio(np.asarray(samples, dtype=np.float32), sample_rate, format)
    with atomic_output(path) as stream:
        stream.write(data)


def pcm16(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] as 16-bit little-endian PCM bytes (clipped, rounded)."""
    return (np.clip(samples, -1, 1) * 32767).round().astype("<i2").tobytes()


def streaming_wav_header(sample_rate: int) -> bytes:
    """A 16-bit mono WAV header whose sizes say 'unknown length' (0xFFFFFFFF), for audio sent as it is made:
    players and decoders (aplay, sox, ffmpeg, soundfile) read such a stream until it ends."""
    unknown = 0xFFFFFFFF
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        *(b"RIFF", unknown, b"WAVE", b"fmt ", 16, 1, 1, sample_rate, 2 * sample_rate, 2, 16),
        *(b"data", unknown),
    )
