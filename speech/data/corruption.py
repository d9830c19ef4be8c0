"""Corrupting training audio for recognizers: a model that heard one clean channel spells words into any other.

Three corruptions, each applied to a drawn share of the utterances, in this order:

- **speed**, another speaker: the waveform resampled so that it plays faster or slower by a factor drawn
  uniformly from 1 +- ``speed_max``, which moves the pitch and every formant by that factor and the
  duration by its inverse (Ko et al., 2015), as a shorter or longer vocal tract does;
- **spectral tilt**, a different microphone or voice effort: the spectrum is multiplied by a slope of
  so many dB per octave about a pivot at 1/8 of the Nyquist frequency (1 kHz at 16 kHz), drawn uniformly
  from +- ``tilt_max`` dB, and the waveform keeps its power;
- **additive noise**, Gaussian noise whose spectrum slopes as 1 / f**alpha, alpha drawn from [0, 2] (white,
  pink, brown and between), at a signal-to-noise ratio drawn uniformly in decibels.

The random draws come from a generator the stream seeds per batch, so a resumed run corrupts alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.fft

from speech.audio import resample
from speech.features import SpecAugmentConfig

TILT_PIVOT = 1 / 8  # of the Nyquist frequency: the level there is unchanged
TILT_FLOOR = 1 / 80  # below this (100 Hz at 16 kHz) the slope stops, so hum and DC are not blown up


def shape_spectrum(signal: np.ndarray, gain: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``signal`` (float64) filtered by ``gain``, a function of frequency as a fraction of Nyquist.

    The transform is zero-padded to a length with small prime factors: an utterance of prime length would
    take ten times as long, and the training stream's one worker would hold back the model.
    """
    size = scipy.fft.next_fast_len(len(signal), real=True)
    spectrum = scipy.fft.rfft(signal, n=size)
    return scipy.fft.irfft(spectrum * gain(np.linspace(0.0, 1.0, len(spectrum))), n=size)[: len(signal)]


def coloured_noise(length: int, alpha: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-power Gaussian noise of ``length`` samples with a power spectrum proportional to 1 / f**alpha."""
    white = rng.standard_normal(length)
    # The mean gets the first bin's gain, where the slope starts.
    noise = shape_spectrum(white, lambda fraction: np.maximum(fraction, fraction[1]) ** -(alpha / 2))
    return noise / max(float(np.sqrt(np.mean(noise**2))), 1e-12)


def add_noise(waveform: np.ndarray, snr_db: float, alpha: float, rng: np.random.Generator) -> np.ndarray:
    """``waveform`` plus 1 / f**alpha noise (0: white) ``snr_db`` below its mean power, clipped to [-1, 1]."""
    power = float(np.mean(waveform.astype(np.float64) ** 2))
    noise = coloured_noise(len(waveform), alpha, rng) * np.sqrt(power / 10 ** (snr_db / 10))
    return np.clip(waveform + noise, -1.0, 1.0).astype(np.float32)


def tilt_spectrum(waveform: np.ndarray, db_per_octave: float) -> np.ndarray:
    """``waveform`` with its spectrum sloped by ``db_per_octave`` about the pivot, at its own mean power,
    clipped to [-1, 1]."""
    signal = waveform.astype(np.float64)
    tilted = shape_spectrum(
        signal,
        lambda nyquist_fraction: (
            10 ** (db_per_octave * np.log2(np.maximum(nyquist_fraction, TILT_FLOOR) / TILT_PIVOT) / 20)
        ),
    )
    scale = np.sqrt(np.mean(signal**2) / max(float(np.mean(tilted**2)), 1e-20))
    return np.clip(tilted * scale, -1.0, 1.0).astype(np.float32)


def change_speed(waveform: np.ndarray, factor: float) -> np.ndarray:
    """``waveform`` played ``factor`` times as fast: ``factor`` times shorter, every frequency ``factor``
    times higher, clipped to [-1, 1]."""
    faster = resample(waveform.astype(np.float32), 16000 * factor, 16000)  # only the ratio matters
    return np.clip(faster, -1.0, 1.0)


@dataclass(frozen=True)
class WaveformCorruption:
    """The ``augment`` section's waveform corruptions (``speed_*``, ``tilt_*``, ``noise_*``) as a batch
    transform."""

    config: SpecAugmentConfig

    def __call__(self, waveforms: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        return [self._corrupt(waveform, rng) if len(waveform) >= 2 else waveform for waveform in waveforms]

    def _corrupt(self, waveform: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        config = self.config
        if config.speed_prob and rng.random() < config.speed_prob:  # no draw when off
            waveform = change_speed(waveform, 1 + rng.uniform(-config.speed_max, config.speed_max))
        if config.tilt_prob and rng.random() < config.tilt_prob:  # no draw when off
            waveform = tilt_spectrum(waveform, rng.uniform(-config.tilt_max, config.tilt_max))
        if rng.random() < config.noise_prob:
            snr_db = rng.uniform(config.noise_snr_min, config.noise_snr_max)
            waveform = add_noise(waveform, snr_db, rng.uniform(0.0, 2.0), rng)
        return waveform


def waveform_corruption(config: SpecAugmentConfig) -> WaveformCorruption | None:
    """The training streams' corruption from the ``augment`` section, or None when it makes none."""
    return WaveformCorruption(config) if config.corrupts_audio else None
