"""The numpy features (speech.logmel, what the onnxruntime backend runs) against the torch ones the models
were trained on, on real read speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speech.audio import read_audio
from speech.errors import SpeechError
from speech.features import FeatureExtractor, mel_filterbank
from speech.logmel import FeatureConfig, LogMel, slaney_filterbank

CONFIGS = [
    FeatureConfig(),  # the shipped recognizer's
    FeatureConfig(kind="mfcc"),
    FeatureConfig(
        n_fft=512, win_length=400, f_min=20.0, f_max=7600.0, n_mels=40
    ),  # a centred, shorter window
    FeatureConfig(sample_rate=22050, n_fft=1024, win_length=1024, hop_length=256),  # the voices' front end
]
TOLERANCE = 1e-3  # in the log (or cepstral) domain; measured: under 1e-4, float32 FFT rounding


@pytest.mark.parametrize("config", CONFIGS, ids=lambda config: f"{config.kind}-{config.n_fft}")
def test_numpy_features_match_torch(config: FeatureConfig, librivox_dir: Path) -> None:
    assert np.abs(slaney_filterbank(config) - mel_filterbank(config).numpy()).max() < 1e-6
    numpy_features, torch_features = LogMel(config), FeatureExtractor(config)
    for clip in sorted(librivox_dir.glob("*.wav")):
        samples = read_audio(clip, config.sample_rate)[0]
        expected = torch_features(samples).numpy()
        got = numpy_features(samples)
        assert got.shape == expected.shape == (config.num_frames(len(samples)), config.dims)
        assert got.dtype == np.float32
        assert np.abs(got - expected).max() < TOLERANCE, clip.name
    silence = np.zeros(config.sample_rate, dtype=np.float32)  # the log floor, as torch has it
    assert np.abs(numpy_features(silence) - torch_features(silence).numpy()).max() < TOLERANCE


def test_bad_waveforms_are_one_line_errors() -> None:
    features = LogMel()
    with pytest.raises(SpeechError, match="too short for a 400-sample window"):
        features(np.zeros(150, dtype=np.float32))
    with pytest.raises(SpeechError, match=r"one mono waveform, got shape \(2, 16000\)"):
        features(np.zeros((2, 16000), dtype=np.float32))
