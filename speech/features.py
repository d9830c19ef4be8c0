"""Acoustic features: log-mel filterbanks and MFCCs, global normalisation, SpecAugment.

Features are time-major, shape (frames, dims) for one utterance or (batch, frames, dims) for a batch, which is
what the recurrent models consume. The :class:`FeatureConfig` travels with a model's weights, so inference
always computes exactly the features the model was trained on. The config lives in :mod:`speech.logmel`
(imported from here too), with the numpy computation of the same features that transcription through
onnxruntime uses without importing torch.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchaudio
from torch import Tensor, nn

from speech.audio import atomic_output
from speech.errors import SpeechError
from speech.logmel import LOG_FLOOR, FeatureConfig


def mel_power(logmel: Tensor) -> Tensor:
    """Mel-band power from log-mel frames: the inverse of ``log(power + LOG_FLOOR)``, never negative."""
    return (logmel.exp() - LOG_FLOOR).clamp_min(0)


def mel_filterbank(config: FeatureConfig) -> Tensor:
    """(fft bins, mels): the triangles :class:`FeatureExtractor` sums power under (Slaney scale and area),
    for the code that goes back from mels to a spectrum (Griffin-Lim, linear prediction)."""
    return torchaudio.functional.melscale_fbanks(
        config.n_fft // 2 + 1,
        config.f_min,
        config.f_max or config.sample_rate / 2,
        config.n_mels,
        config.sample_rate,
        norm="slaney",
        mel_scale="slaney",
    )


class FeatureExtractor(nn.Module):
    """Waveform (samples,) or (batch, samples) -> features (frames, dims) or (batch, frames, dims)."""

    def __init__(self, config: FeatureConfig | None = None):
        super().__init__()
        config = config or FeatureConfig()
        self.config = config
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=config.sample_rate,
            n_fft=config.n_fft,
            win_length=config.win_length,
            hop_length=config.hop_length,
            f_min=config.f_min,
            f_max=config.f_max,
            n_mels=config.n_mels,
            power=2.0,
            norm="slaney",
            mel_scale="slaney",
        )
        if config.kind == "mfcc":
            dct = torchaudio.functional.create_dct(config.n_mfcc, config.n_mels, norm="ortho")
            self.register_buffer("dct", dct, persistent=False)
        else:
            self.dct = None

    @torch.no_grad()
    def forward(self, waveform: Tensor | np.ndarray) -> Tensor:
        waveform = torch.as_tensor(waveform, dtype=torch.float32)
        features = torch.log(self.mel(waveform) + LOG_FLOOR).transpose(-1, -2)
        return features @ self.dct if self.dct is not None else features

    def lengths(self, sample_lengths: Tensor) -> Tensor:
        """Frame counts for a batch of sample counts (padding adds frames, so batches need these)."""
        return torch.div(sample_lengths, self.config.hop_length, rounding_mode="floor") + 1


class GlobalNormalizer(nn.Module):
    """Per-dimension mean/variance normalisation with statistics over a whole corpus.

    Utterance-level CMVN would erase loudness and channel cues differently for short and long inputs;
    corpus statistics, saved beside the model, treat every input the same way.
    """

    def __init__(self, mean: Tensor, std: Tensor):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    def forward(self, features: Tensor) -> Tensor:
        return (features - self.mean) / self.std

    def inverse(self, normalized: Tensor) -> Tensor:
        """Normalised frames back to the features (a model that predicts normalised frames)."""
        return normalized * self.std + self.mean

    def save(self, path: str | os.PathLike) -> None:
        record = {"mean": self.mean.tolist(), "std": self.std.tolist()}
        with atomic_output(path, "w") as stream:
            json.dump(record, stream)

    @classmethod
    def load(cls, path: str | os.PathLike) -> GlobalNormalizer:
        try:
            record = json.loads(Path(path).read_text())
            return cls(torch.tensor(record["mean"]), torch.tensor(record["std"]))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise SpeechError(f"{path}: not a normalisation statistics file ({error})") from None


class RunningStats:
    """Streaming mean and variance in float64, so corpora of any size never need to fit in memory."""

    def __init__(self, dims: int):
        self.count = 0
        self.total = torch.zeros(dims, dtype=torch.float64)
        self.squares = torch.zeros(dims, dtype=torch.float64)

    def update(self, features: Tensor) -> None:
        """Add frames of shape (..., dims)."""
        frames = features.reshape(-1, features.shape[-1]).to(torch.float64)
        self.count += frames.shape[0]
        self.total += frames.sum(0)
        self.squares += frames.square().sum(0)

    def normalizer(self, min_std: float = 1e-3) -> GlobalNormalizer:
        if self.count == 0:
            raise SpeechError("no frames seen: cannot compute normalisation statistics")
        mean = self.total / self.count
        variance = (self.squares / self.count - mean.square()).clamp_min(min_std**2)
        return GlobalNormalizer(mean.float(), variance.sqrt().float())


@dataclass(frozen=True)
class SpecAugmentConfig:
    freq_masks: int = 2
    freq_width: int = 15  # at most this many feature channels per mask
    time_masks: int = 2
    time_fraction: float = 0.05  # each time mask covers at most this fraction of the utterance
    warp: float = 0.0  # stretch or squeeze the mel axis by up to this fraction (0.1: factors 0.9-1.1)
    # Corrupting the training waveforms (recognizers only; speech.data.corruption):
    noise_prob: float = 0.0  # share of training utterances that get additive coloured noise (0: none)
    noise_snr_min: float = 5.0  # signal-to-noise ratio in dB, drawn uniformly between these
    noise_snr_max: float = 40.0
    tilt_prob: float = 0.0  # share of training utterances whose spectrum is tilted (0: none)
    tilt_max: float = 6.0  # the tilt in dB per octave, drawn uniformly from +- this
    speed_prob: float = 0.0  # share of training utterances played faster or slower (0: none)
    # the speed factor, drawn uniformly from 1 +- this (0.1: 0.9-1.1); batches are sized before it, so a
    # slowed one holds up to 1 / (1 - speed_max) times batch_seconds of audio
    speed_max: float = 0.1
    reverb_prob: float = 0.0  # share of training utterances heard in a simulated room (0: none)
    reverb_rt60_min: float = 0.2  # the room's reverberation time in seconds, drawn uniformly between these
    reverb_rt60_max: float = 0.8
    reverb_drr_min: float = 0.0  # direct-to-reverberant energy ratio in dB, drawn uniformly between these
    reverb_drr_max: float = 12.0
    babble_prob: float = 0.0  # share of training utterances mixed with other utterances of their batch
    babble_snr_min: float = 5.0  # the target's power over the babble's, in dB, drawn uniformly between these
    babble_snr_max: float = 25.0
    babble_talkers: int = 3  # at most this many other utterances in the babble (drawn from 1)
    telephone_prob: float = 0.0  # share sent through a telephone channel (300-3400 Hz, 8 kHz G.711 mu-law)
    clip_prob: float = 0.0  # share of training utterances clipped, as by a recording level set too high
    clip_fraction_max: float = 0.02  # at most this share of an utterance's samples clipped (drawn from 0)
    codec_prob: float = 0.0  # share passed through a lossy codec (MP3, Opus or Vorbis at a drawn bitrate)

    def __post_init__(self) -> None:
        if not 0 <= self.noise_prob <= 1 or self.noise_snr_min > self.noise_snr_max:
            raise SpeechError("augment.noise_prob must be in [0, 1] and noise_snr_min <= noise_snr_max")
        if not 0 <= self.tilt_prob <= 1 or self.tilt_max < 0:
            raise SpeechError("augment.tilt_prob must be in [0, 1] and tilt_max >= 0")
        if not 0 <= self.speed_prob <= 1 or not 0 <= self.speed_max <= 0.3:
            raise SpeechError("augment.speed_prob must be in [0, 1] and speed_max in [0, 0.3]")
        if not 0 <= self.reverb_prob <= 1 or not 0 < self.reverb_rt60_min <= self.reverb_rt60_max <= 2:
            raise SpeechError(
                "augment.reverb_prob must be in [0, 1] and 0 < reverb_rt60_min <= reverb_rt60_max <= 2"
            )
        if self.reverb_drr_min > self.reverb_drr_max:
            raise SpeechError("augment.reverb_drr_min must be <= reverb_drr_max")
        if (
            not 0 <= self.babble_prob <= 1
            or self.babble_snr_min > self.babble_snr_max
            or self.babble_talkers < 1
        ):
            raise SpeechError(
                "augment.babble_prob must be in [0, 1], babble_snr_min <= babble_snr_max and babble_talkers >= 1"
            )
        if not 0 <= self.telephone_prob <= 1:
            raise SpeechError("augment.telephone_prob must be in [0, 1]")
        if not 0 <= self.clip_prob <= 1 or not 0 < self.clip_fraction_max <= 0.2:
            raise SpeechError("augment.clip_prob must be in [0, 1] and clip_fraction_max in (0, 0.2]")
        if not 0 <= self.codec_prob <= 1:
            raise SpeechError("augment.codec_prob must be in [0, 1]")

    @property
    def corrupts_audio(self) -> bool:
        return bool(
            self.noise_prob
            or self.tilt_prob
            or self.speed_prob
            or self.reverb_prob
            or self.babble_prob
            or self.telephone_prob
            or self.clip_prob
            or self.codec_prob
        )


class SpecAugment(nn.Module):
    """Frequency warping, then frequency and time masking (Park et al., 2019), independently per utterance,
    training only.

    The warp is vocal tract length perturbation (Jaitly and Hinton, 2013) done on the mel axis: a shorter or
    longer vocal tract moves every formant by one factor, so a recognizer that has heard a few voices
    learns to expect others. Masks are set to zero, which after global normalisation is the corpus mean.
    """

    def __init__(self, config: SpecAugmentConfig = SpecAugmentConfig()):
        super().__init__()
        self.config = config

    def forward(self, features: Tensor, lengths: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if not self.training:
            return features
        if self.config.warp > 0:
            features = warp_frequencies(features, self.config.warp, generator)
        batch, frames, dims = features.shape
        keep = torch.ones(batch, frames, dims, dtype=torch.bool, device=features.device)
        frame_index = torch.arange(frames, device=features.device)
        dim_index = torch.arange(dims, device=features.device)
        for _ in range(self.config.freq_masks):
            keep &= ~_band(dim_index, batch, dims, self.config.freq_width, generator)[:, None, :]
        max_widths = (lengths.float() * self.config.time_fraction).long().clamp_min(1)
        for _ in range(self.config.time_masks):
            keep &= ~_band(frame_index, batch, lengths, max_widths, generator)[:, :, None]
        return features * keep


def warp_frequencies(features: Tensor, max_warp: float, generator: torch.Generator | None = None) -> Tensor:
    """Each utterance's channels resampled at ``index / factor`` (factor drawn from 1 +- ``max_warp``):
    factors above 1 move formants up, below 1 down; channels past the top repeat the last one."""
    batch, _, dims = features.shape
    factors = 1 + max_warp * (2 * torch.rand(batch, generator=generator) - 1)
    source = (torch.arange(dims)[None, :] / factors[:, None]).clamp(max=dims - 1).to(features.device)
    low = source.floor().long()
    high = (low + 1).clamp(max=dims - 1)
    weight = (source - low).to(features.dtype)[:, None, :]

    def pick(index: Tensor) -> Tensor:
        return features.gather(2, index[:, None, :].expand_as(features))

    return pick(low) * (1 - weight) + pick(high) * weight


def _band(
    index: Tensor,
    batch: int,
    extent: int | Tensor,
    max_width: int | Tensor,
    generator: torch.Generator | None,
) -> Tensor:
    """A random [start, start + width) band per utterance, as a (batch, len(index)) boolean mask."""
    extent = torch.as_tensor(extent, device=index.device).expand(batch)
    max_width = torch.as_tensor(max_width, device=index.device).expand(batch)
    uniform = torch.rand(2, batch, generator=generator).to(index.device)
    width = (uniform[0] * (max_width + 1).float()).long().minimum(extent)
    start = (uniform[1] * (extent - width + 1).float()).long()
    return (index[None, :] >= start[:, None]) & (index[None, :] < (start + width)[:, None])
