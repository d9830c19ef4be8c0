"""The mel-consistency step after the subframe vocoder: its output is given the log-mel it was asked for."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from speech.audio import read_audio
from speech.features import FeatureConfig, FeatureExtractor
from speech.models.subframe import SubframeVocoder, SubframeVocoderConfig
from speech.vocoder.consistency import MelConsistency
from speech.vocoder.subframe import SubframeGenerator

pytestmark = pytest.mark.usefixtures("one_torch_thread")
EXTRACTOR = FeatureExtractor(FeatureConfig())


@pytest.fixture(scope="module")
def speech_and_mel(librivox_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Three seconds of real read speech and its log-mel, one frame per hop (as a vocoder is given it)."""
    samples, _ = read_audio(sorted(librivox_dir.glob("*.wav"))[0], 16000)
    mel = EXTRACTOR(samples[: 3 * 16000]).numpy()[:-1]
    return samples[: len(mel) * 160], mel


def mel_error(samples: np.ndarray, mel: np.ndarray) -> float:
    """Mean absolute log-mel difference (nats) over the frames with speech in them."""
    speech = mel.max(axis=1) > np.log(1e-3)
    return float(np.abs(EXTRACTOR(samples).numpy()[: len(mel)] - mel)[speech].mean())


def test_a_distorted_signal_gets_the_mel_back(speech_and_mel: tuple[np.ndarray, np.ndarray]) -> None:
    samples, mel = speech_and_mel
    # Quieter by 10 dB and tilted (a first difference): wrong in every band, by up to 20 dB.
    distorted = (0.3 * np.append(samples[0], samples[1:] - 0.9 * samples[:-1])).astype(np.float32)
    consistency = MelConsistency(FeatureConfig())
    before = mel_error(distorted, mel)
    assert before > 2
    errors = []
    for iterations in (0, 8):
        matched = consistency(distorted, mel, iterations)
        assert matched.shape == distorted.shape and np.abs(matched).max() <= 1
        errors.append(mel_error(matched, mel))
    assert errors[0] < 0.05 * before
    # The rescaled spectrogram is not quite a signal's; Griffin-Lim's iterations make it one, nearer the mel.
    assert errors[1] < 0.9 * errors[0]


def test_a_signal_that_already_has_the_mel_is_left_as_it_is(
    speech_and_mel: tuple[np.ndarray, np.ndarray],
) -> None:
    samples, mel = speech_and_mel
    matched = MelConsistency(FeatureConfig())(samples, mel, iterations=0)
    assert np.corrcoef(samples, matched)[0, 1] > 0.999


def test_the_generator_matches_by_default_and_refine_none_is_the_network_alone(
    speech_and_mel: tuple[np.ndarray, np.ndarray],
) -> None:
    _, mel = speech_and_mel
    torch.manual_seed(0)
    config = SubframeVocoderConfig(hidden=24, cond=16, subframe_cond=8, harmonic_bands=4)
    generator = SubframeGenerator(SubframeVocoder(config), FeatureConfig())
    raw = generator.vocode(mel, refine=None)[0]
    matched = generator.vocode(mel, refine=0)[0]
    refined = generator.vocode(mel)[0]
    np.testing.assert_array_equal(raw, generator._vocode_many([mel], 200, 10)[0])
    assert len(raw) == len(matched) == len(refined) == len(mel) * 160
    assert not np.allclose(matched, refined, atol=1e-3)  # the iterations run
    # An untrained network is far from the mel; the consistency step brings it most of the way.
    assert mel_error(matched, mel) < 0.5 * mel_error(raw, mel)
    assert mel_error(refined, mel) < 0.5 * mel_error(raw, mel)
