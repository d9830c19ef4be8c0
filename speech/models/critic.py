"""The discriminators of a vocoder's adversarial stage: a multi-resolution spectrogram critic, and a
multi-period waveform critic.

    waveform (N, T) -> per FFT size n: log |STFT| (hop n/4), (N, 1, frames, n/2+1)
        -> conv(3x5, stride 1x2) -> [conv(3x5, stride 2x2)] x 3 -> conv(3x3) x 2
        -> score map (N, 1, ~frames/8, ~bins/16)

Why a spectrogram critic: a vocoder that runs free (speech.models.subframe) never matches the original's
phase, so a critic judging raw samples would punish phase it cannot know; log-magnitude images judge what is
heard, as the spectral loss does, and their convolutions learn the texture the spectral loss averages away
(noisy harmonics, smeared onsets), which is what an adversarial stage is for (after UnivNet's
multi-resolution spectrogram discriminator and FARGAN's second stage). Strides of 2 in frequency from the
first layer and in time from the second keep it cheap enough to train beside the vocoder on one CPU thread
(at 12 channels, a step of the vocoder with its critic takes about 1.6x one without). Every layer's
activations are returned for the feature-matching loss.

But a magnitude critic cannot see phase either, and the roughness a spectrally trained vocoder keeps is
mostly in how its harmonics' phases line up (pipelines/vocoder/README.md: the recording's residual with
randomised phases loses as much as the vocoder does). :class:`WaveformCritic` looks at samples: HiFi-GAN's
multi-period discriminator, each scorer folding the waveform into columns one period p apart (N, 1, T/p, p)
and convolving along them, so it sees how each sample repeats p samples later, i.e. pulse shapes and
periodicity, whatever the absolute phase. Small (8-16 channels, strides of 3) for the same CPU budget.

    waveform (N, T) -> per period p: (N, 1, T/p, p) -> conv(5x1, stride 3x1) x 3 -> conv(5x1) -> conv(3x1)
        -> score map (N, 1, ~T/27p, p)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def activations(scorer: nn.ModuleList, x: Tensor) -> list[Tensor]:
    """Every layer's output of one scorer on ``x`` (leaky ReLU between layers, none after the score map): the
    score map last, the rest for feature matching."""
    layers = []
    for index, conv in enumerate(scorer):
        x = conv(x)
        if index < len(scorer) - 1:
            x = nn.functional.leaky_relu(x, 0.2)
        layers.append(x)
    return layers


class SpectrogramCritic(nn.Module):
    """One small 2-D convolutional scorer per FFT size; ``forward`` gives each scorer's layer outputs, the
    last being its score map (real recordings near 1, generated ones near 0: least-squares GAN)."""

    def __init__(self, fft_sizes: list[int], channels: int = 16):
        super().__init__()
        self.fft_sizes = list(fft_sizes)
        self.scorers = nn.ModuleList(self._scorer(channels) for _ in self.fft_sizes)
        for size in self.fft_sizes:
            self.register_buffer(f"window_{size}", torch.hann_window(size), persistent=False)

    @staticmethod
    def _scorer(channels: int) -> nn.ModuleList:
        return nn.ModuleList(
            [
                nn.Conv2d(1, channels, (3, 5), stride=(1, 2), padding=(1, 2)),
                *(nn.Conv2d(channels, channels, (3, 5), stride=2, padding=(1, 2)) for _ in range(3)),
                nn.Conv2d(channels, channels, 3, padding=1),
                nn.Conv2d(channels, 1, 3, padding=1),
            ]
        )

    def forward(self, audio: Tensor) -> list[list[Tensor]]:
        """audio (N, T) -> for each FFT size, the activations of every layer (N, C, frames', bins')."""
        outputs = []
        for size, scorer in zip(self.fft_sizes, self.scorers, strict=True):
            window = getattr(self, f"window_{size}")
            spectrum = torch.stft(audio.float(), size, size // 4, window=window, return_complex=True)
            outputs.append(
                activations(scorer, spectrum.abs().clamp_min(1e-5).log().transpose(1, 2).unsqueeze(1))
            )
        return outputs


class WaveformCritic(nn.Module):
    """One small 2-D convolutional scorer per period over the folded waveform; ``forward`` gives each
    scorer's layer outputs, the last being its score map (least-squares GAN, as :class:`SpectrogramCritic`)."""

    def __init__(self, periods: list[int], channels: int = 16):
        super().__init__()
        self.periods = list(periods)
        self.scorers = nn.ModuleList(self._scorer(channels) for _ in self.periods)

    @staticmethod
    def _scorer(channels: int) -> nn.ModuleList:
        return nn.ModuleList(
            [
                nn.Conv2d(1, channels, (5, 1), stride=(3, 1), padding=(2, 0)),
                *(nn.Conv2d(channels, channels, (5, 1), stride=(3, 1), padding=(2, 0)) for _ in range(2)),
                nn.Conv2d(channels, channels, (5, 1), padding=(2, 0)),
                nn.Conv2d(channels, 1, (3, 1), padding=(1, 0)),
            ]
        )

    def forward(self, audio: Tensor) -> list[list[Tensor]]:
        """audio (N, T) -> for each period, the activations of every layer (N, C, rows', period)."""
        if audio.shape[1] <= max(self.periods):
            raise ValueError(
                f"the waveform critic needs more than {max(self.periods)} samples, got {audio.shape[1]}"
            )
        # Each row at unit RMS: speech at -20 to -30 dBFS would leave the first layer's outputs near zero and
        # the scores near their biases; the level is the spectral loss's business, the shape this critic's.
        audio = audio.float()
        audio = audio / audio.pow(2).mean(1, keepdim=True).sqrt().clamp_min(1e-4)
        outputs = []
        for period, scorer in zip(self.periods, self.scorers, strict=True):
            folded = nn.functional.pad(audio, (0, -audio.shape[1] % period), mode="reflect")
            outputs.append(activations(scorer, folded.unflatten(1, (-1, period)).unsqueeze(1)))
        return outputs


def critic_loss(critic: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """The critic's least-squares loss: scores of real audio pulled to 1, of generated audio to 0."""
    scores = list(zip(critic(real), critic(fake.detach()), strict=True))  # (a DDP-wrapped critic too)
    total = sum((real[-1] - 1).pow(2).mean() + fake[-1].pow(2).mean() for real, fake in scores)
    return total / len(scores)


def generator_terms(critic: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
    """The generator's adversarial loss (scores of its audio pulled to 1) and its feature-matching loss (L1
    between the critic's activations on generated and real audio, each layer's divided by the real one's
    mean magnitude so that every layer and resolution weighs alike). Gradients reach ``fake`` and, unless
    the caller freezes it (the trainer does), the critic's own weights too."""
    adversarial, matching = fake.new_zeros(()), fake.new_zeros(())
    with torch.no_grad():
        real_outputs = critic(real)
    for real_layers, fake_layers in zip(real_outputs, critic(fake), strict=True):
        adversarial = adversarial + (fake_layers[-1] - 1).pow(2).mean()
        distances = [
            (ours - theirs).abs().mean() / theirs.abs().mean().clamp_min(1e-5)
            for ours, theirs in zip(fake_layers[:-1], real_layers[:-1], strict=True)
        ]
        matching = matching + sum(distances) / len(distances)
    count = len(real_outputs)
    return adversarial / count, matching / count
