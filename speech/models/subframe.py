"""The subframe vocoder: log-mel frames -> 16 kHz waveform, 40 samples of excitation per GRU step, shaped by a
linear-prediction filter computed from the mel, trained free-running on a multi-resolution spectral loss.

    mel (B, F, mels) -> normalise -> conv(k=3) -> tanh -> conv(k=3) -> tanh -> cond (B, F, C)      100 Hz
    cond -> per subframe: conditioning (4 x 64), excitation gain; F0 head -> period T per frame
    mel -> LPC a_1..a_16 and levels (frame RMS, excitation RMS) per frame (speech.lpc.MelLPC.analyse)
    per 40-sample subframe (400 Hz), all inputs divided by the frame's levels:
        [cond_k, e_prev (40), s_prev (40), zero-input response of 1/A (40), e[t-T-2 .. t-T+41] (44),
         with harmonic_bands the harmonic source's pulses summed over bands (40)]
        -> dense(192, tanh) -> GRUCell(192) -> GRUCell(192, fed the signal inputs again)
        -> linear([dense, h1, h2]) -> tanh (+ pulses (40, bands) @ linear([dense, h1, h2]) with harmonic_bands)
        -> x excitation level x gain -> e (40)
        s = H e + G s_past  (1 / A(z) over the subframe, speech.lpc.synthesis_matrices)

Why this design, for training on 2 CPU cores (the LPCNet-style sample-rate design, speech.models.lpcnet,
reached only STOI 0.84 and 1.6x the original's CER after ~3 CPU-hours; measured in
pipelines/vocoder/README.md):
- One GRU step per 40 samples (after FARGAN, Valin et al. 2024) makes a second of audio 400 steps, not
  16,000: training runs the model free, on its own past output, over 1 s segments (no teacher forcing, so
  no exposure bias and no noise-injection trick), at ~20 audio-seconds learned per second on one thread
  (the sample-rate design: ~3).
- The filter hands the network the spectral envelope (LPCNet's insight): with it, a prototype beat the
  sample-rate design's 3-hour scores after 10 minutes (STOI 0.87, CER within 1.2x of the original's);
  without it, the same network had to learn the envelope too and was at STOI 0.75 after 25 minutes. The
  filter is linear, so each subframe is two matrix products and the loss trains through it.
- Pitch: voiced excitation repeats every period, so the excitation one period back (a 44-sample window
  round lag T, as CELP's adaptive codebook and FARGAN's pitch prediction) is an input; T comes from an F0
  head on the conditioning, trained on YIN (or pYIN tracks), so generation needs only the mel.
- The spectral loss (spectral convergence + log-magnitude L1 at five resolutions, 128-2048 points) judges
  what is heard without asking for the original's phase, which a sample-by-sample likelihood demands.
- But a spectral loss cannot teach how the harmonics' phases line up into glottal pulses either, and
  without that voiced speech comes out rough (the recording's own residual through the same filter scores
  DNSMOS 3.2, the spectrally trained excitation 2.45; pipelines/vocoder/README.md). With
  ``harmonic_bands``, a harmonic source (speech.harmonics: band-limited pulse trains at F0 in octave
  bands, as neural source-filter vocoders use) supplies the pulses: the network sets, per subframe, how much
  of each band joins its own excitation, and sees the pulses among its inputs. Training builds it from the
  reference F0 (YIN, or the corpus's pYIN tracks), generation from the F0 head.
- Levels estimated from the mel scale every input and the output, so the network sees unit-scale signals at
  any loudness and its output gain only corrects the estimate.
- Generation is deterministic (no sampling) and runs the same loop as training; long inputs are folded into
  pieces that run as one batch (speech.vocoder.subframe).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from speech.features import GlobalNormalizer
from speech.harmonics import harmonic_source
from speech.lpc import synthesis_matrices
from speech.models.padding import lengths_mask
from speech.models.vocoder import PitchedSegmentsConfig

PERIOD_CENTRE = 7.0  # log2 samples: the F0 head predicts log2(T) - 7, about 0 for a 125 Hz voice at 16 kHz


@dataclass
class SubframeLossConfig(PitchedSegmentsConfig):
    """How the subframe vocoder is taught: ``segments_per_utterance`` segments of ``segment_frames`` frames,
    each run free from the real signal before it, scored by a spectral loss at ``fft_sizes`` (hop a quarter
    of each), plus the F0 head's loss (:class:`~speech.models.vocoder.PitchedSegmentsConfig`).

    ``pitch_tracks`` (an ``.npz`` from tools/pitch_tracks.py) makes the corpus's pYIN tracks the F0
    reference (the head's targets, the lags, the harmonic source) instead of YIN on each batch.

    The adversarial stage (``adversarial_weight`` or ``feature_weight`` above 0, started from a model the
    spectral loss trained) adds a critic (:mod:`speech.models.critic`) with ``critic_channels`` channels:
    ``critic="spectrogram"`` at ``critic_fft_sizes``, or ``"waveform"`` at ``critic_periods``; its
    least-squares score and its feature-matching distance."""

    segment_frames: int = 100
    segments_per_utterance: int = 1
    fft_sizes: list[int] = field(default_factory=lambda: [2048, 1024, 512, 256, 128])
    pitch_tracks: str = ""
    adversarial_weight: float = 0.0
    feature_weight: float = 0.0
    critic: str = "spectrogram"
    critic_fft_sizes: list[int] = field(default_factory=lambda: [1024, 512, 256])
    critic_periods: list[int] = field(default_factory=lambda: [2, 3, 5, 7, 11])
    critic_channels: int = 16

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("fft_sizes", "critic_fft_sizes"):
            sizes = getattr(self, name)
            if not sizes or min(sizes) < 8:
                raise ValueError(f"{name} must list FFT sizes of at least 8, got {sizes}")
        if self.critic not in ("spectrogram", "waveform"):
            raise ValueError(f"critic must be 'spectrogram' or 'waveform', got {self.critic!r}")
        if not self.critic_periods or min(self.critic_periods) < 1:
            raise ValueError(f"critic_periods must list periods of at least 1, got {self.critic_periods}")
        if self.adversarial_weight < 0 or self.feature_weight < 0 or self.critic_channels < 1:
            raise ValueError("adversarial_weight and feature_weight must be >= 0, critic_channels >= 1")


@dataclass
class SubframeVocoderConfig:
    input_dims: int = 80  # mel bins (set from the features by the task)
    hop_length: int = 160  # samples per frame (set from the features by the task)
    min_period: int = 32  # the long-term lag's range in samples (set from the sample rate by the task)
    max_period: int = 267
    subframe: int = 40  # samples per GRU step; divides hop_length
    order: int = 16  # linear-prediction order
    cond: int = 128  # conditioning channels per frame
    subframe_cond: int = 64  # conditioning channels per subframe
    hidden: int = 192  # units of the dense layer and each GRU cell
    lag_margin: int = 2  # the pitch window reaches this many samples either side of the lag
    harmonic_bands: int = 0  # octave bands of a pulse-train source at F0 mixed into the excitation; 0: none

    def __post_init__(self) -> None:
        if self.subframe < 1 or self.hop_length % self.subframe:
            raise ValueError(f"subframe ({self.subframe}) must divide hop_length ({self.hop_length})")
        if not 2 * self.lag_margin < self.min_period <= self.max_period:
            raise ValueError("need 2 * lag_margin < min_period <= max_period")
        if self.harmonic_bands < 0:
            raise ValueError(f"harmonic_bands must be >= 0, got {self.harmonic_bands}")

    @property
    def subframes(self) -> int:
        """GRU steps per frame."""
        return self.hop_length // self.subframe

    @property
    def window(self) -> int:
        """Samples of the pitch window."""
        return self.subframe + 2 * self.lag_margin

    @property
    def history(self) -> int:
        """Past samples the loop keeps: enough for the longest lag's window and the filter."""
        return max(self.max_period + self.lag_margin, self.order, self.subframe)


class SubframeVocoder(nn.Module):
    def __init__(self, config: SubframeVocoderConfig):
        super().__init__()
        self.config = c = config
        self.normalize = GlobalNormalizer(torch.zeros(c.input_dims), torch.ones(c.input_dims))
        self.conv1 = nn.Conv1d(c.input_dims, c.cond, 3, padding=1)
        self.conv2 = nn.Conv1d(c.cond, c.cond, 3, padding=1)
        self.sub = nn.Linear(c.cond, c.subframes * c.subframe_cond)
        self.gain = nn.Linear(c.cond, c.subframes)
        self.pitch_head = nn.Sequential(nn.Linear(c.cond, c.cond), nn.Tanh(), nn.Linear(c.cond, 2))
        # Each step's signal inputs: the previous excitation, the previous signal, the filter's zero-input
        # response (what it would say next with no excitation), the pitch window and, with a harmonic
        # source, this subframe's pulses (all bands summed).
        signals = 3 * c.subframe + c.window + (c.subframe if c.harmonic_bands else 0)
        self.dense = nn.Linear(c.subframe_cond + signals, c.hidden)
        self.gru1 = nn.GRUCell(c.hidden, c.hidden)
        self.gru2 = nn.GRUCell(c.hidden + signals, c.hidden)
        self.out = nn.Linear(3 * c.hidden, c.subframe)
        if c.harmonic_bands:
            # How much of each band's pulses joins the excitation; half of every band at the start.
            self.mix = nn.Linear(3 * c.hidden, c.harmonic_bands)
            nn.init.zeros_(self.mix.weight)
            nn.init.constant_(self.mix.bias, 0.5)
        nn.init.zeros_(self.gain.weight)
        nn.init.constant_(self.gain.bias, math.log(2.0))  # tanh's +-1 as +-2 excitation RMS at the start

    def condition(self, mel: Tensor, lengths: Tensor) -> Tensor:
        """(B, F, mels) log-mel frames -> (B, F, cond). Padding is zeroed before each convolution (as a lone
        input's zero padding is), so each input is conditioned as it would be alone."""
        mask = lengths_mask(lengths, mel.shape[1], mel.device)[:, None]
        x = self.normalize(mel).transpose(1, 2) * mask
        x = torch.tanh(self.conv1(x)) * mask
        return torch.tanh(self.conv2(x)).transpose(1, 2)

    def pitch(self, cond: Tensor) -> tuple[Tensor, Tensor]:
        """(..., cond) -> log2 pitch period in samples and voicing logits per frame. The head reads the
        conditioning detached, so that it serves the waveform (as in speech.models.lpcnet)."""
        log_period, voicing = self.pitch_head(cond.detach()).unbind(-1)
        return log_period + PERIOD_CENTRE, voicing

    def head_pitch(self, cond: Tensor) -> tuple[Tensor, Tensor]:
        """(..., cond) -> the F0 head's period in samples (fractional) and voicing (bool) per frame: what
        generation uses where training has the reference's."""
        log_period, voicing = self.pitch(cond)
        return torch.exp2(log_period), voicing > 0

    def lags(self, period: Tensor) -> Tensor:
        """Periods in samples -> the long-term lags: whole samples inside the searched range."""
        return period.round().clamp(self.config.min_period, self.config.max_period).long()

    def harmonics(self, period: Tensor, voiced: Tensor) -> Tensor | None:
        """(B, F) periods in samples and voicing -> the harmonic source (B, F * hop, bands), or None for a
        model without one."""
        c = self.config
        if not c.harmonic_bands:
            return None
        frequency = period.clamp(c.min_period, c.max_period).reciprocal()
        return harmonic_source(frequency, voiced.to(frequency.dtype), c.hop_length, c.harmonic_bands)

    def subframe_frames(self, frames: int, available: int) -> Tensor:
        """(frames * subframes,) for each subframe, the frame (of ``available`` from the first) whose centre is
        nearest its own, for its filter and levels."""
        c = self.config
        start = torch.arange(frames * c.subframes) * c.subframe
        return torch.div(
            start + c.subframe // 2 + c.hop_length // 2, c.hop_length, rounding_mode="floor"
        ).clamp(max=available - 1)

    def forward(
        self,
        cond: Tensor,
        periods: Tensor,
        lpc: Tensor,
        levels: Tensor,
        history: tuple[Tensor, Tensor],
        source: Tensor | None = None,
    ) -> Tensor:
        """Run free over F frames: cond (B, F, cond), periods (B, F) long, the LPC (B, F', order) and levels
        (B, F', 2) of frames from the first on (F' = F + 1 lets the last subframes use the next frame's),
        the signal and excitation (B, history) before the first sample, and with ``harmonic_bands`` the
        harmonic source (B, F * hop, bands) -> (B, F * hop) waveform."""
        c = self.config
        batch, frames = cond.shape[:2]
        expected = (batch, frames * c.hop_length, c.harmonic_bands) if c.harmonic_bands else None
        if (None if source is None else tuple(source.shape)) != expected:
            raise ValueError(f"the harmonic source must be {expected or 'None'} for this model")
        nearest = self.subframe_frames(frames, lpc.shape[1]).to(cond.device)
        # Each frame's filter once (not once per subframe: a quarter of the work), in float64 for exactness.
        filters, free = (m.to(cond.dtype) for m in synthesis_matrices(lpc.double(), c.subframe))
        level, excitation_level = levels[:, nearest].unbind(-1)  # (B, S) each
        frames_of = nearest.tolist()
        conditioning = torch.tanh(self.sub(cond)).unflatten(-1, (c.subframes, -1)).flatten(1, 2)
        gains = torch.exp(self.gain(cond)).flatten(1, 2)
        lags = periods.repeat_interleave(c.subframes, 1)
        offsets = torch.arange(c.window, device=cond.device) - c.lag_margin
        signal, excitation = history
        h1 = cond.new_zeros(batch, c.hidden)
        h2 = cond.new_zeros(batch, c.hidden)
        outputs = []
        for k in range(frames * c.subframes):
            s_level, e_level, lag = level[:, k, None], excitation_level[:, k, None], lags[:, k, None]
            # The pitch window: positions from the present on repeat the last period.
            past = torch.where(offsets < lag, offsets, offsets - lag)
            pitch = excitation.gather(1, c.history - lag + past).detach() / e_level
            frame = frames_of[k]
            zero_input = (free[:, frame] @ signal[:, -c.order :, None])[..., 0]
            inputs = [
                excitation[:, -c.subframe :].detach() / e_level,
                signal[:, -c.subframe :].detach() / s_level,
                zero_input.detach() / s_level,
                pitch,
            ]
            if source is not None:
                pulses = source[:, k * c.subframe : (k + 1) * c.subframe]  # (B, subframe, bands)
                inputs.append(pulses.sum(-1))
            signals = torch.cat(inputs, 1)
            x = torch.tanh(self.dense(torch.cat([conditioning[:, k], signals], 1)))
            h1 = self.gru1(x, h1)
            h2 = self.gru2(torch.cat([h1, signals], 1), h2)
            state = torch.cat([x, h1, h2], 1)
            e = torch.tanh(self.out(state))
            if source is not None:
                e = e + (pulses @ self.mix(state)[..., None])[..., 0]
            e = e * e_level * gains[:, k, None]
            s = (filters[:, frame] @ e[..., None])[..., 0] + zero_input
            outputs.append(s)
            signal = torch.cat([signal[:, c.subframe :], s], 1)
            excitation = torch.cat([excitation[:, c.subframe :], e], 1)
        return torch.cat(outputs, 1)
