"""The vocoder: log-mel frames -> 16 kHz waveform, a 4-band WaveRNN (GRU) predicting 9-bit mu-law samples.

    mel (B, F, mels) -> normalise -> conv(k=5) -> BiGRU -> cond (B, F, C)           frame rate (100 Hz)
    cond -> linear interpolation to the band rate (B, S, C), S = F * hop / bands    4 kHz for 4 bands
    [cond, previous step's 4 band samples] -> GRU(hidden) -> per band: relu(fc) -> linear -> 512 logits

The waveform is pre-emphasised (1 - 0.85 z^-1) and split by a 4-band PQMF filter bank into four 4 kHz
sub-band signals; each GRU step predicts one mu-law sample per band (the bands independent given the GRU
state, as in multi-band WaveRNN / FeatherWave); generation runs the synthesis bank and de-emphasis after.

Why this output, measured (tools/bench_vocoder.py, 2-core EPYC shared with a training run, one thread):
- Speed is the cost per sample. A 16 kHz single-band 384-unit GRU (8-bit) took 4.0 s for 10 s of audio;
  four bands per step cut the sequential steps and the work per output sample about fourfold: 1.6 s
  (8-bit), 2.0 s (9-bit), 2.25 s (10-bit with 64-unit output layers). Training sequences get 4x shorter.
- Quality floor: encoding real speech as the targets are made and decoding it again (the error a perfect
  model would keep) gives a log-mel MCD of 2.1 dB at 8 bits, 0.9 dB at 9 bits, 0.4 dB at 10 bits with
  pre-emphasis (3.0 / 1.6 / 0.8 dB without). 9 bits halves the 8-bit floor for ~25% more time, inside the
  3x real-time budget with room; 10 bits needs narrower output layers to stay affordable. A dual coarse/fine softmax needs two
  dependent passes a step; a mixture of logistics trains slowly and unstably on small corpora.

Conditioning enters the GRU only through its input weights, which are linear: the generator projects each
frame once and interpolates the projections (exactly what interpolating the features would give), so a
sample step costs the recurrent matrix, the output layers and the sampling only (speech/vocoder/kernel.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio
from torch import Tensor, nn

from speech.features import GlobalNormalizer
from speech.models.padding import lengths_mask
from speech.models.rnn import BiRNN


@dataclass
class SegmentsConfig:
    """How a vocoder is taught: teacher-forced segments cut at random from each utterance of a batch."""

    segment_frames: int = 12  # frames per segment (BPTT length = frames * hop / bands)
    segments_per_utterance: int = 2

    def __post_init__(self) -> None:
        if self.segment_frames < 1 or self.segments_per_utterance < 1:
            raise ValueError("segment_frames and segments_per_utterance must be at least 1")


@dataclass
class PitchedSegmentsConfig(SegmentsConfig):
    """Segments, plus how a vocoder's F0 head is taught: its loss (voicing cross-entropy + L1 of log2
    period) weighted by ``pitch_weight``, and training lags moved by up to ``period_jitter`` samples from
    the reference's (YIN's), as the head's errors will move them in generation."""

    pitch_weight: float = 0.5
    period_jitter: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.pitch_weight < 0 or self.period_jitter < 0:
            raise ValueError("pitch_weight and period_jitter must be >= 0")


@dataclass
class VocoderModelConfig:
    input_dims: int = 80  # mel bins (set from the features by the task)
    hop_length: int = 160  # samples per frame (set from the features by the task)
    bands: int = 4  # PQMF sub-bands predicted per GRU step: 1 (plain WaveRNN) or 4
    bits: int = 9  # mu-law bits per sample: a softmax over 2**bits classes per band
    hidden: int = 384  # GRU units
    cond: int = 128  # conditioning channels (conv and BiGRU output)
    fc: int = 128  # hidden units of each band's output layer
    preemphasis: float = 0.85  # 0 disables

    def __post_init__(self) -> None:
        if self.bands not in (1, 2, 4) or self.hop_length % self.bands:
            raise ValueError(
                f"bands must be 1, 2 or 4 and divide hop_length {self.hop_length}, got {self.bands}"
            )
        if not 4 <= self.bits <= 12:
            raise ValueError(f"bits must be between 4 and 12, got {self.bits}")

    @property
    def steps_per_frame(self) -> int:
        return self.hop_length // self.bands

    @property
    def classes(self) -> int:
        return 2**self.bits


def mulaw_encode(x: Tensor, bits: int) -> Tensor:
    """Samples in [-1, 1] -> class indices in [0, 2**bits)."""
    mu = 2**bits - 1
    y = torch.sign(x) * torch.log1p(mu * x.abs().clamp(max=1.0)) / math.log1p(mu)
    return ((y + 1) / 2 * mu + 0.5).long().clamp(0, mu)


def mulaw_levels(bits: int) -> Tensor:
    """The sample value each class index stands for (float32, (2**bits,))."""
    mu = 2**bits - 1
    y = torch.arange(mu + 1, dtype=torch.float64) / mu * 2 - 1
    return (torch.sign(y) * ((1 + mu) ** y.abs() - 1) / mu).float()


def preemphasis(x: Tensor, coefficient: float) -> Tensor:
    """y[n] = x[n] - c x[n-1] over the last dimension (x[-1] = 0)."""
    return x - coefficient * F.pad(x, (1, -1)) if coefficient else x


class PQMF(nn.Module):
    """Pseudo-QMF cosine-modulated filter bank (Nguyen 1994): near-perfect reconstruction with a Kaiser
    prototype (62 taps, cutoff 0.142, beta 9 for four bands, the settings of multi-band MelGAN)."""

    def __init__(self, bands: int, taps: int = 62, cutoff: float = 0.142, beta: float = 9.0):
        super().__init__()
        self.bands, self.pad = bands, taps // 2
        n = np.arange(taps + 1) - taps / 2
        with np.errstate(invalid="ignore", divide="ignore"):
            prototype = np.sin(np.pi * cutoff * n) / (np.pi * n)
        prototype[taps // 2] = cutoff
        prototype *= np.kaiser(taps + 1, beta)
        k = np.arange(bands)[:, None]
        phase = (2 * k + 1) * np.pi / (2 * bands) * n[None, :]
        sign = (-1.0) ** k * np.pi / 4
        analysis = 2 * prototype * np.cos(phase + sign)
        synthesis = 2 * prototype * np.cos(phase - sign)
        self.register_buffer("analysis_filter", torch.tensor(analysis, dtype=torch.float32)[:, None], False)
        self.register_buffer("synthesis_filter", torch.tensor(synthesis, dtype=torch.float32)[None], False)

    def analysis(self, x: Tensor) -> Tensor:
        """(B, T) waveform -> (B, bands, T / bands) sub-band signals."""
        if self.bands == 1:
            return x[:, None]
        return F.conv1d(F.pad(x[:, None], (self.pad, self.pad)), self.analysis_filter)[..., :: self.bands]

    def synthesis(self, x: Tensor) -> Tensor:
        """(B, bands, S) sub-band signals -> (B, S * bands) waveform."""
        if self.bands == 1:
            return x[:, 0]
        upsampled = torch.zeros(*x.shape[:2], x.shape[2] * self.bands, dtype=x.dtype, device=x.device)
        upsampled[..., :: self.bands] = x * self.bands
        return F.conv1d(F.pad(upsampled, (self.pad, self.pad)), self.synthesis_filter)[:, 0]


def interpolate_frames(frames: Tensor, steps_per_frame: int, steps: int) -> Tensor:
    """(B, F, C) frame features -> (B, steps, C): step t sits at frame position u = t / steps_per_frame and
    mixes frames floor(u) and floor(u) + 1 linearly (the last frame repeats). The generator does the same."""
    t = torch.arange(steps, device=frames.device)
    last = frames.shape[1] - 1
    f0 = torch.div(t, steps_per_frame, rounding_mode="floor")
    a = ((t - f0 * steps_per_frame).float() / steps_per_frame)[None, :, None].to(frames.dtype)
    return frames[:, f0.clamp(max=last)] * (1 - a) + frames[:, (f0 + 1).clamp(max=last)] * a


class FrameConditioned(nn.Module):
    """What both vocoders share: the frame-rate conditioning network and its projection into the input gates
    of a sample-rate GRU ``self.rnn`` (built by the subclass) whose first ``cond`` inputs are the
    conditioning."""

    def __init__(self, input_dims: int, cond: int):
        super().__init__()
        self.cond_size = cond
        self.normalize = GlobalNormalizer(torch.zeros(input_dims), torch.ones(input_dims))
        self.conv = nn.Conv1d(input_dims, cond, kernel_size=5, padding=2)
        self.cond_rnn = BiRNN(cond, cond // 2, cell=nn.GRU)

    def condition(self, mel: Tensor, lengths: Tensor) -> Tensor:
        """(B, F, mels) log-mel frames -> (B, F, cond) conditioning frames. Padding is zeroed before the
        convolution, so each input is conditioned as it would be alone."""
        mask = lengths_mask(lengths, mel.shape[1], mel.device)[..., None]
        x = torch.relu(self.conv((self.normalize(mel) * mask).transpose(1, 2))).transpose(1, 2)
        return self.cond_rnn(x, lengths)

    def frame_gates(self, cond: Tensor) -> Tensor:
        """(..., F, cond) conditioning -> (..., F, 3H): its share of the GRU's input gates, which the sample
        loop computes once per frame instead of once per sample (the input weights are linear)."""
        return F.linear(cond, self.rnn.weight_ih_l0[:, : self.cond_size], self.rnn.bias_ih_l0)


class VocoderModel(FrameConditioned):
    def __init__(self, config: VocoderModelConfig):
        super().__init__(config.input_dims, config.cond)
        self.config = config
        c = config
        self.rnn = nn.GRU(c.cond + c.bands, c.hidden, batch_first=True)  # input: [cond, previous samples]
        self.fc = nn.Linear(c.hidden, c.bands * c.fc)  # every band's first output layer in one matrix
        self.out_weight = nn.Parameter(torch.empty(c.bands, c.classes, c.fc))
        self.out_bias = nn.Parameter(torch.zeros(c.bands, c.classes))
        nn.init.kaiming_uniform_(self.out_weight, a=math.sqrt(5))
        self.pqmf = PQMF(c.bands)
        self.register_buffer("levels", mulaw_levels(c.bits), persistent=False)

    def forward(self, cond: Tensor, previous: Tensor) -> Tensor:
        """Teacher-forced logits (B, S, bands, classes) from step-rate conditioning (B, S, cond) and each
        step's previous band samples (B, S, bands)."""
        x, _ = self.rnn(torch.cat([cond, previous], dim=-1))
        x = torch.relu(self.fc(x)).unflatten(-1, (self.config.bands, self.config.fc))
        return torch.einsum("bsnf,ncf->bsnc", x, self.out_weight) + self.out_bias

    def targets(self, audio: Tensor) -> Tensor:
        """(B, T) waveforms, T a multiple of hop -> (B, T / bands, bands) mu-law class indices."""
        bands = self.pqmf.analysis(preemphasis(audio, self.config.preemphasis))
        return mulaw_encode(bands.clamp(-1, 1), self.config.bits).transpose(1, 2)

    def waveform(self, indices_or_values: Tensor) -> Tensor:
        """(B, S, bands) class indices (long) or sample values (float) -> (B, S * bands) waveforms."""
        x = indices_or_values
        values = self.levels[x] if not x.is_floating_point() else x
        audio = self.pqmf.synthesis(values.transpose(1, 2).float())
        if self.config.preemphasis:  # undo it: y[n] = x[n] + c y[n-1]
            a = torch.tensor([1.0, -self.config.preemphasis], device=audio.device)
            audio = torchaudio.functional.lfilter(
                audio, a, torch.tensor([1.0, 0.0], device=audio.device), False
            )
        return audio
