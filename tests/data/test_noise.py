from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speech.audio import read_audio
from speech.data.noise import NoiseAugment, coloured_noise
from speech.tasks import TASKS
from speech.train.config import ConfigError, load_config

CONF = Path(__file__).resolve().parents[2] / "conf"


def band_power(noise: np.ndarray, low: int, high: int) -> float:
    return float(np.mean(np.abs(np.fft.rfft(noise))[low:high] ** 2))


def test_coloured_noise_has_unit_power_and_its_slope() -> None:
    rng = np.random.default_rng(0)
    white, brown = coloured_noise(16000, 0.0, rng), coloured_noise(16000, 2.0, rng)
    for noise in (white, brown):
        assert np.mean(noise**2) == pytest.approx(1.0, rel=1e-6)
    assert 0.8 < band_power(white, 100, 200) / band_power(white, 4000, 4100) < 1.25  # flat
    ratio = band_power(brown, 100, 200) / band_power(brown, 4000, 4100)  # 1/f**2: about (4050/150)**2
    assert 300 < ratio < 1500


def test_noise_is_added_at_the_drawn_snr_and_only_to_the_chosen_share(librivox_dir: Path) -> None:
    speech = [read_audio(path, 16000)[0] for path in sorted(librivox_dir.glob("*.wav"))]
    noisy = NoiseAugment(1.0, 10.0, 10.0)(speech, np.random.default_rng(0))
    for clean, mixed in zip(speech, noisy, strict=True):
        noise = mixed.astype(np.float64) - clean
        assert 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(noise**2)) == pytest.approx(
            10.0, abs=0.1
        )
    untouched = NoiseAugment(0.0, 10.0, 10.0)(speech, np.random.default_rng(0))
    assert all(a is b for a, b in zip(untouched, speech, strict=True))
    some = NoiseAugment(0.5, 10.0, 10.0)(speech * 20, np.random.default_rng(0))
    assert 20 < sum(a is not b for a, b in zip(some, speech * 20, strict=True)) < 80


def test_only_recognizers_take_noise() -> None:
    config = load_config(CONF / "asr/tiny.yaml", ["augment.noise_prob=0.5"])
    TASKS["asr"](config)
    for task in ("tts", "vocoder"):
        with pytest.raises(ConfigError, match="learns from clean audio"):
            TASKS[task](load_config(CONF / f"{task}/tiny.yaml", ["augment.noise_prob=0.5"]))
    with pytest.raises(ConfigError, match="noise_prob must be in"):
        TASKS["asr"](load_config(CONF / "asr/tiny.yaml", ["augment.noise_prob=1.5"]))
