"""Live transcription (speech/stream.py) and ``speech transcribe --stream``, on Debian's real read speech.

The stream is five LibriVox clips with a second of silence between them, so the right cuts are known: one piece
per clip, each finished within a pause of its end, whatever size the reads are.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from speech.audio import read_audio, resample
from speech.errors import SpeechError
from speech.recognizer import Recognizer
from speech.stream import (
    PAUSE_SECONDS,
    Final,
    LiveTranscriber,
    Partial,
    PauseSegmenter,
    PCMDecoder,
)

RATE = 16000
GAP_SECONDS = 1.0
LINE = re.compile(r"^\[ *(\d+\.\d\d) --> *(\d+\.\d\d)\] (\S.*)$")


@pytest.fixture(scope="module")
def clips(librivox_dir: Path) -> list[np.ndarray]:
    return [read_audio(path, RATE)[0] for path in sorted(librivox_dir.glob("*.wav"))]


@pytest.fixture(scope="module")
def stream(clips: list[np.ndarray]) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The clips with a second of digital silence after each, and each clip's (start, end) in seconds."""
    gap = np.zeros(int(GAP_SECONDS * RATE), np.float32)
    spans, position = [], 0
    for clip in clips:
        spans.append((position / RATE, (position + len(clip)) / RATE))
        position += len(clip) + len(gap)
    return np.concatenate([part for clip in clips for part in (clip, gap)]), spans


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer.load()


def pieces(samples: np.ndarray, read: int, **options) -> list[tuple[float, float]]:
    segmenter = PauseSegmenter(RATE, **options)
    found = []
    for start in range(0, len(samples), read):
        found += segmenter.push(samples[start : start + read])
    found += segmenter.flush()
    return [(start / RATE, (start + len(piece)) / RATE) for start, piece in found]


def test_cuts_at_the_pauses_between_clips(stream) -> None:
    samples, spans = stream
    found = pieces(samples, 1600)
    assert len(found) == len(spans), found
    for (start, end), (clip_start, clip_end) in zip(found, spans, strict=True):
        assert clip_start - 0.3 <= start < end <= clip_end + 0.3, (found, spans)
        assert end - start > 0.5 * (clip_end - clip_start)


def test_cuts_do_not_depend_on_the_size_of_the_reads(stream) -> None:
    samples, _ = stream
    assert pieces(samples, 1234) == pieces(samples, 160) == pieces(samples, 48_001)


def test_speech_without_pauses_is_cut_at_the_maximum_length(clips) -> None:
    speech = np.concatenate(clips)  # clips back to back: pauses under half a second at most
    found = pieces(speech, 3200, max_seconds=4.0, pause_seconds=1.0)
    assert len(found) >= len(speech) / RATE / 4
    assert all(end - start <= 4.0 + 0.02 for start, end in found), found
    assert all(a[1] == b[0] for a, b in zip(found, found[1:], strict=False) if b[0] - a[1] < 1.0)


def test_memory_stays_bounded_over_a_long_stream(stream) -> None:
    """Ten minutes of speech, pauses, a long silence and a long stretch of speech without a pause: what the
    segmenter holds never passes its bound, however long the stream runs."""
    samples, _ = stream
    rng = np.random.default_rng(0)
    segmenter = PauseSegmenter(RATE, max_seconds=8.0)
    bound = int((8.0 + 2 * 0.2 + 0.1) * RATE)
    fed, most = 0, 0
    unbroken = np.tile(samples[: 5 * RATE], 6)  # 30 s with no pause
    silence = np.zeros(30 * RATE, np.float32)
    while fed < 600 * RATE:
        part = [unbroken, silence][fed // len(unbroken)] if fed < 60 * RATE else samples
        for start in range(0, len(part), 4000):
            segmenter.push(part[start : start + 4000] + rng.normal(0, 1e-4, len(part[start : start + 4000])))
            most = max(most, segmenter.buffered_samples)
        fed += len(part)
    assert segmenter.position >= 600 * RATE - 320
    assert most <= bound, (most, bound)


def test_silence_and_steady_noise_make_no_pieces() -> None:
    rng = np.random.default_rng(1)
    assert pieces(np.zeros(20 * RATE, np.float32), 1600) == []
    hiss = rng.normal(0, 0.01, 20 * RATE).astype(np.float32)
    assert pieces(hiss, 1600) == []


def test_each_final_comes_within_a_pause_of_its_end(stream, recognizer) -> None:
    samples, spans = stream
    read = 1600
    live = LiveTranscriber(recognizer, RATE, partial_seconds=0.5)
    finals, partials, lag = [], [], []
    for start in range(0, len(samples), read):
        for event in live.feed(samples[start : start + read]):
            if isinstance(event, Final):
                finals.append(event.segment)
                lag.append((start + read) / RATE - event.segment.end)
            else:
                partials.append(event)
    finals += [event.segment for event in live.finish()]
    assert len(finals) == len(spans)
    assert all(segment.text.strip() for segment in finals)
    assert max(lag) <= PAUSE_SECONDS + read / RATE + 0.02, lag  # printed as soon as its pause is heard
    for segment, (clip_start, clip_end) in zip(finals, spans, strict=True):
        assert clip_start - 0.3 <= segment.start < segment.end <= clip_end + 0.3
        assert all(segment.start <= w.start <= w.end <= segment.end for w in segment.words)
    assert partials and all(isinstance(p, Partial) for p in partials)
    starts = {segment.start for segment in finals}
    assert {p.start for p in partials} <= starts  # each partial belongs to a piece that was finished
    assert all(p.end - p.start >= 0.4 for p in partials)


def test_live_text_is_the_recognizers_text_for_the_same_piece(stream, recognizer) -> None:
    samples, _ = stream
    live = LiveTranscriber(recognizer, RATE)
    finals = [e.segment for e in live.feed(samples) + live.finish()]
    segmenter = PauseSegmenter(RATE)
    cut = segmenter.push(samples) + segmenter.flush()
    batch = recognizer.transcribe([(piece, RATE) for _, piece in cut])
    assert [s.text for s in finals] == [r.transcript.text for r in batch]


def test_pcm_split_anywhere_decodes_the_same() -> None:
    pcm = (np.arange(-500, 500, dtype=np.int16) * 37).astype("<i2").tobytes()
    decode = PCMDecoder()
    parts = [decode(pcm[i : i + 7]) for i in range(0, len(pcm), 7)]
    whole = PCMDecoder()(pcm)
    assert np.array_equal(np.concatenate(parts), whole)
    assert whole[0] == pytest.approx(-500 * 37 / 32768)


@pytest.mark.parametrize(
    "options",
    [
        {"rate": 0},
        {"rate": 16000.5},
        {"max_seconds": 0.0},
        {"max_seconds": float("nan")},
        {"pause_seconds": -1},
    ],
)
def test_bad_options_are_one_line_errors(options) -> None:
    arguments = {"rate": RATE, **options}
    with pytest.raises(SpeechError) as error:
        PauseSegmenter(**arguments)
    assert "\n" not in str(error.value)


# ------------------------------------------------------------------------------------------------- CLI


def pcm_bytes(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).round().astype("<i2").tobytes()


def run_cli(*args: str, data: bytes = b"") -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "speech", "transcribe", *args],
        input=data,
        capture_output=True,
        env=env,
        timeout=120,
    )


def test_cli_prints_a_line_per_segment(stream) -> None:
    samples, spans = stream
    done = run_cli("--stream", data=pcm_bytes(samples))
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode().splitlines()
    assert len(lines) == len(spans), lines
    times = [LINE.match(line).groups()[:2] for line in lines]
    for (start, end), (clip_start, clip_end) in zip(times, spans, strict=True):
        assert clip_start - 0.3 <= float(start) < float(end) <= clip_end + 0.3


def test_cli_partials_and_another_sample_rate(stream) -> None:
    samples, spans = stream
    done = run_cli(
        "--stream", "--partial", "--sample-rate", "8000", data=pcm_bytes(resample(samples, RATE, 8000))
    )
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode().splitlines()
    finals = [line for line in lines if LINE.match(line)]
    partials = [line for line in lines if line.startswith("~") and LINE.match(line[1:])]
    assert len(finals) == len(spans) and len(partials) > len(spans)
    assert len(finals) + len(partials) == len(lines)


def test_cli_stream_refuses_inputs_and_bad_options(tmp_path: Path) -> None:
    for args in (("--stream", str(tmp_path / "a.wav")), ("--stream", "--sample-rate", "0"), ()):
        done = run_cli(*args)
        assert done.returncode == 1, args
        error = done.stderr.decode()
        assert error.startswith("error: ") and error.count("\n") == 1 and "Traceback" not in error, error


def test_cli_stream_of_nothing_prints_nothing() -> None:
    done = run_cli("--stream", data=b"\x00\x00" * RATE + b"\x01")  # a second of silence and half a sample
    assert done.returncode == 0 and done.stdout == b"", done.stderr.decode()
