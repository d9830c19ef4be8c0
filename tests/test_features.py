from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest
import torch

from speech.audio import read_audio
from speech.errors import SpeechError
from speech.features import (
    LOG_FLOOR,
    FeatureConfig,
    FeatureExtractor,
    GlobalNormalizer,
    RunningStats,
    SpecAugment,
    SpecAugmentConfig,
    warp_frequencies,
)


@pytest.mark.parametrize(
    "config",
    [
        FeatureConfig(),
        FeatureConfig(
            sample_rate=22050, n_fft=1024, win_length=1024, hop_length=256, n_mels=80, f_min=40, f_max=8000
        ),
    ],
)
def test_mel_filterbank_matches_librosa(config: FeatureConfig) -> None:
    ours = FeatureExtractor(config).mel.mel_scale.fb.T.numpy()
    reference = librosa.filters.mel(
        sr=config.sample_rate, n_fft=config.n_fft, n_mels=config.n_mels, fmin=config.f_min, fmax=config.f_max
    )
    assert ours.shape == reference.shape
    assert np.allclose(ours, reference, atol=1e-5 * reference.max())  # float32 rounding


def test_log_mel_matches_librosa_on_speech(speech_wav: Path) -> None:
    config = FeatureConfig()
    samples, _ = read_audio(speech_wav, config.sample_rate)
    ours = FeatureExtractor(config)(samples).numpy()
    reference = librosa.feature.melspectrogram(
        y=samples,
        sr=config.sample_rate,
        n_fft=config.n_fft,
        win_length=config.win_length,
        hop_length=config.hop_length,
        n_mels=config.n_mels,
        power=2.0,
        pad_mode="reflect",
    )
    reference = np.log(reference + LOG_FLOOR).T
    assert ours.shape == reference.shape == (config.num_frames(len(samples)), config.n_mels)
    assert np.abs(ours - reference).max() < 1e-2


def test_mfcc_and_batched_lengths(speech_wav: Path) -> None:
    config = FeatureConfig(kind="mfcc", n_mfcc=13)
    extractor = FeatureExtractor(config)
    samples, _ = read_audio(speech_wav, config.sample_rate)
    single = extractor(samples)
    assert single.shape == (config.num_frames(len(samples)), 13)
    batch = torch.zeros(2, len(samples))
    batch[0] = torch.from_numpy(samples)
    batch[1, : len(samples) // 2] = torch.from_numpy(samples[: len(samples) // 2])
    batched = extractor(batch)
    lengths = extractor.lengths(torch.tensor([len(samples), len(samples) // 2]))
    assert batched.shape == (2, single.shape[0], 13) and lengths.tolist()[0] == single.shape[0]
    assert torch.allclose(batched[0], single, atol=1e-3)
    # The first coefficient follows loudness: speech frames are louder than the zero-padded tail.
    assert batched[1, : lengths[1] - 2, 0].mean() > batched[1, lengths[1] + 2 :, 0].mean()


def test_config_rejects_nonsense() -> None:
    with pytest.raises(SpeechError, match="kind"):
        FeatureConfig(kind="spectrogram")
    with pytest.raises(SpeechError, match="f_max"):
        FeatureConfig(f_max=12000)
    with pytest.raises(SpeechError, match="win_length"):
        FeatureConfig(win_length=800)


def test_corpus_statistics_normalise_and_persist(
    tmp_path: Path, speech_wav: Path, librivox_dir: Path
) -> None:
    extractor = FeatureExtractor()
    stats = RunningStats(80)
    utterances = [
        extractor(read_audio(path, 16000)[0]) for path in [speech_wav, *sorted(librivox_dir.glob("*.wav"))]
    ]
    for features in utterances:
        stats.update(features)
    normalizer = stats.normalizer()
    together = normalizer(torch.cat(utterances))
    assert torch.allclose(together.mean(0), torch.zeros(80), atol=1e-3)
    assert torch.allclose(together.std(0), torch.ones(80), atol=1e-2)
    normalizer.save(tmp_path / "cmvn.json")
    loaded = GlobalNormalizer.load(tmp_path / "cmvn.json")
    assert torch.equal(loaded.mean, normalizer.mean) and torch.equal(loaded.std, normalizer.std)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(SpeechError, match="bad.json"):
        GlobalNormalizer.load(tmp_path / "bad.json")


def test_spec_augment_masks_inside_each_utterance() -> None:
    augment = SpecAugment(SpecAugmentConfig(freq_masks=2, freq_width=10, time_masks=2, time_fraction=0.2))
    features = torch.ones(3, 100, 40)
    lengths = torch.tensor([100, 60, 30])
    generator = torch.Generator().manual_seed(0)
    masked = augment.train()(features, lengths, generator)
    assert masked.shape == features.shape
    assert (masked == 0).any() and (masked == 1).any()
    assert not torch.equal(masked[0], masked[1])  # masks are drawn per utterance
    for row, length in enumerate(lengths.tolist()):
        zero_frames = (masked[row] == 0).all(dim=1).nonzero().flatten()
        assert zero_frames.numel() <= 2 * int(0.2 * length)
        assert (zero_frames < length).all()
    again = augment(features, lengths, torch.Generator().manual_seed(0))
    assert torch.equal(masked, again)  # seeded: reproducible
    assert torch.equal(augment.eval()(features, lengths), features)


def test_frequency_warp_moves_each_utterances_formants_by_one_bounded_factor() -> None:
    # A tone's log-mel: one bright channel. Warping by a factor f moves it from channel c to about c * f.
    samples = np.sin(2 * np.pi * 1500 * np.arange(16000) / 16000).astype(np.float32)
    tone = FeatureExtractor(FeatureConfig())(torch.from_numpy(samples))
    peak = int(tone.mean(0).argmax())
    features = tone.expand(64, -1, -1).clone()
    warped = warp_frequencies(features, 0.1, torch.Generator().manual_seed(0))
    peaks = warped.mean(1).argmax(1)
    assert warped.shape == features.shape
    assert ((peaks >= int(0.9 * peak) - 1) & (peaks <= round(1.1 * peak) + 1)).all()
    assert (peaks < peak).any() and (peaks > peak).any()  # both directions, per utterance
    unwarped = warp_frequencies(features, 0.0)
    assert torch.allclose(unwarped, features)
    augment = SpecAugment(SpecAugmentConfig(freq_masks=0, time_masks=0, warp=0.1))
    assert torch.equal(augment.eval()(features, torch.full((64,), features.shape[1])), features)
