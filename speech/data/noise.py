"""Additive noise for training recognizers: a model that never heard noise spells words into it.

Each chosen utterance gets Gaussian noise whose spectrum slopes as 1 / f**alpha, alpha drawn from [0, 2]
(white, pink, brown and between), at a signal-to-noise ratio drawn uniformly in decibels. The random draws
come from a generator the stream seeds per batch, so a resumed run adds the same noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speech.features import SpecAugmentConfig


def coloured_noise(length: int, alpha: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-power Gaussian noise of ``length`` samples with a power spectrum proportional to 1 / f**alpha."""
    spectrum = np.fft.rfft(rng.standard_normal(length))
    frequencies = np.arange(len(spectrum), dtype=np.float64)
    frequencies[0] = 1.0  # keep the mean; the slope starts at the first bin
    noise = np.fft.irfft(spectrum / frequencies ** (alpha / 2), n=length)
    return noise / max(float(np.sqrt(np.mean(noise**2))), 1e-12)


def add_noise(waveform: np.ndarray, snr_db: float, alpha: float, rng: np.random.Generator) -> np.ndarray:
    """``waveform`` plus 1 / f**alpha noise (0: white) ``snr_db`` below its mean power, clipped to [-1, 1]."""
    power = float(np.mean(waveform.astype(np.float64) ** 2))
    noise = coloured_noise(len(waveform), alpha, rng) * np.sqrt(power / 10 ** (snr_db / 10))
    return np.clip(waveform + noise, -1.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class NoiseAugment:
    probability: float  # share of utterances that get noise
    snr_min: float  # dB
    snr_max: float  # dB

    def __call__(self, waveforms: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        out = []
        for waveform in waveforms:
            if len(waveform) < 2 or rng.random() >= self.probability:
                out.append(waveform)
                continue
            snr_db = rng.uniform(self.snr_min, self.snr_max)
            out.append(add_noise(waveform, snr_db, rng.uniform(0.0, 2.0), rng))
        return out


def noise_augment(config: SpecAugmentConfig) -> NoiseAugment | None:
    """The training streams' noise from the ``augment`` section, or None when it adds none."""
    if not config.noise_prob:
        return None
    return NoiseAugment(config.noise_prob, config.noise_snr_min, config.noise_snr_max)
