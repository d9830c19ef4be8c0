"""Benchmark: our log-mel extraction against librosa.feature.melspectrogram on the same audio and settings.

    python tools/bench_features.py [--seconds 600] [--repeats 5]

Audio: Debian's pocketsphinx-testdata read speech (real, 16 kHz) tiled to the requested length and cut into
10-second utterances, the shape a batch transcription job sees. Both sides compute a power mel spectrogram
(25 ms / 10 ms, 80 Slaney mels) and its log; the outputs are checked to agree before timing. Prints a
Markdown table row for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import librosa
import numpy as np
from machine import describe_machine

from speech.audio import read_audio
from speech.features import LOG_FLOOR, FeatureConfig, FeatureExtractor

REAL_SPEECH = Path("/usr/share/pocketsphinx/test/data/librivox")


def utterances(seconds: float, rate: int) -> list[np.ndarray]:
    speech = np.concatenate([read_audio(path, rate)[0] for path in sorted(REAL_SPEECH.glob("*.wav"))])
    tiled = np.tile(speech, int(np.ceil(seconds * rate / len(speech))))[: int(seconds * rate)]
    return np.split(tiled, len(tiled) // (10 * rate))


def ours(extractor: FeatureExtractor, audio: list[np.ndarray]) -> list[np.ndarray]:
    return [extractor(chunk).numpy() for chunk in audio]


def theirs(config: FeatureConfig, audio: list[np.ndarray]) -> list[np.ndarray]:
    return [
        np.log(
            librosa.feature.melspectrogram(
                y=chunk,
                sr=config.sample_rate,
                n_fft=config.n_fft,
                win_length=config.win_length,
                hop_length=config.hop_length,
                n_mels=config.n_mels,
                power=2.0,
                pad_mode="reflect",
            )
            + LOG_FLOOR
        ).T
        for chunk in audio
    ]


def best_time(function, repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        timings.append(time.perf_counter() - start)
    return min(timings), statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=600, help="audio length to featurise (default 600)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions; the best is reported")
    args = parser.parse_args()

    config = FeatureConfig()
    audio = utterances(args.seconds, config.sample_rate)
    extractor = FeatureExtractor(config)
    difference = max(
        np.abs(a - b).max()
        for a, b in zip(ours(extractor, audio[:2]), theirs(config, audio[:2]), strict=True)
    )
    assert difference < 1e-2, f"outputs disagree by {difference}"
    ours_best, ours_median = best_time(lambda: ours(extractor, audio), args.repeats)
    theirs_best, theirs_median = best_time(lambda: theirs(config, audio), args.repeats)
    machine = describe_machine()
    print(
        f"| log-mel, {args.seconds:.0f} s of speech in 10 s utterances | {machine} "
        f"| ours {ours_best:.3f} s ({args.seconds / ours_best:,.0f}x real time) "
        f"| librosa {theirs_best:.3f} s ({args.seconds / theirs_best:,.0f}x real time) "
        f"| **{theirs_best / ours_best:.1f}x** faster (medians: {ours_median:.3f} s vs {theirs_median:.3f} s) |"
    )


if __name__ == "__main__":
    main()
