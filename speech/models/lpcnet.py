"""The LPC vocoder (after LPCNet, Valin & Skoglund 2019): log-mel frames -> 16 kHz waveform, one 8-bit mu-law
sample per GRU step, with the spectral envelope left to a linear-prediction filter computed from the mel.

    mel (B, F, mels) -> normalise -> conv(k=5) -> BiGRU -> cond (B, F, C)          frame rate (100 Hz)
    mel -> LPC (speech.lpc.MelLPC), 16 coefficients per frame                        frame rate
    p[t] = sum_i a_i s[t-i]                                                          sample rate (16 kHz)
    [cond(t), E(s[t-1]), E(p[t]), E_exc(e[t-1])] -> GRU(hidden) -> relu(fc) -> 256 logits of e[t]
    s[t] = p[t] + e[t]

    with ``pitch``: cond -> linear -> (log2 period T, voicing) per frame, trained on YIN's (speech.pitch),
    and E_exc(e[t-T]) as a fourth GRU input: a long-term predictor, as in CELP codecs' adaptive codebook

Why this design, for training on 2 CPU cores (issue: the 4-band WaveRNN needed ~78 CPU-hours):
- The filter hands the network the envelope, so the GRU only learns the excitation (pitch pulses and
  noise): small (192 units) and early intelligible, since even a poor excitation passes through the
  right envelope. LPCNet matched WaveRNN at a fraction of its size for this reason.
- 8 bits suffice with prediction: the quantisation noise is shaped by the synthesis filter and hides
  under the speech spectrum (floor measured here: MCD 1.08 dB, PESQ-wb 4.59, STOI 1.000 on flite slt, against
  1.49 / 4.11 / 0.999 for 8-bit 4-band without prediction). A 256-way softmax costs half a 512-way one.
- Training cost, measured here on one thread of a 2-core EPYC (nn.GRU forward + backward; a throwaway
  timing, not a tool): the recurrence dominates at ~14 us a sample for 192 units with 128 segments in
  parallel (9.4 us at 128 units; 20 us with only 32 in parallel), the 256-way output layers add ~7 us, and
  every 256 input channels ~11 us, so the inputs stay narrow (64 conditioning channels, 32-wide embeddings).
  A whole training step here (~100,000 samples) takes 3.2-3.9 s: about 2 audio-seconds learned per second.
- Generation: 10 s of speech in 1.4 s on one busy core (tools/bench_vocoder.py), over the 3x target.
- Long-term prediction (``pitch``; run 1 without it learned the envelope in minutes but had barely begun
  to form the harmonics after 1,500 steps): voiced excitation is a pulse train, so the excitation one pitch
  period ago predicts the next pulse, as the adaptive codebook of CELP codecs exploits. Handing the GRU
  e[t-T] saves it discovering the period from its own past samples; T comes from a frame-level head on the
  conditioning, so generation needs nothing but the mel. The period is the waveform's (YIN's), which on a
  creaky voice may be two glottal cycles: for a long-term predictor that is the right lag.
- Teacher forcing with noise (LPCNet's trick): training inputs come from a closed loop in which noise is
  added to the excitation, so the network sees the imperfect past it will generate from and learns to
  steer back to the clean signal (speech.vocoder.lpc_kernel.teacher_inputs).

In generation every input's share of the GRU's input gates is a table lookup (256 levels x 3H, made once by
:meth:`LPCNet.input_tables`) and the conditioning's share is computed once per frame, so a sample step costs
the recurrent matrix, the output layers, the prediction and the sampling (speech.vocoder.lpc_kernel).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from speech.models.vocoder import FrameConditioned, PitchedSegmentsConfig, mulaw_levels

BITS = 8
CLASSES = 2**BITS


@dataclass
class LPCNetLossConfig(PitchedSegmentsConfig):
    """How the LPC vocoder is taught: segments of 5 frames (800 samples), 4 per utterance, and noise of a
    random scale up to ``noise`` mu-law steps (Laplacian) in the teacher-forcing loop's excitation; the pitch
    settings apply with ``model.pitch``."""

    segment_frames: int = 5
    segments_per_utterance: int = 4
    noise: float = 2.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.noise < 0:
            raise ValueError(f"noise must be >= 0, got {self.noise}")


@dataclass
class LPCNetConfig:
    input_dims: int = 80  # mel bins (set from the features by the task)
    hop_length: int = 160  # samples per frame (set from the features by the task)
    order: int = 16  # linear-prediction order
    hidden: int = 192  # GRU units
    cond: int = 64  # conditioning channels (conv and BiGRU output)
    embedding: int = 32  # width of each mu-law input's embedding
    fc: int = 128  # hidden units of the output layer
    pitch: bool = False  # long-term prediction: an F0 head and the excitation one period ago as an input

    def __post_init__(self) -> None:
        if not 1 <= self.order <= 32:
            raise ValueError(f"order must be between 1 and 32, got {self.order}")

    @property
    def steps_per_frame(self) -> int:
        return self.hop_length


PERIOD_CENTRE = 7.0  # log2 samples: the F0 head predicts log2(T) - 7, about 0 for a 125 Hz voice at 16 kHz


class LPCNet(FrameConditioned):
    def __init__(self, config: LPCNetConfig):
        super().__init__(config.input_dims, config.cond)
        self.config = c = config
        self.embed_signal = nn.Embedding(CLASSES, c.embedding)  # for s[t-1] and p[t]
        self.embed_excitation = nn.Embedding(CLASSES, c.embedding)  # for e[t-1] (and e[t-T])
        self.rnn = nn.GRU(c.cond + self.sample_inputs * c.embedding, c.hidden, batch_first=True)
        self.fc = nn.Linear(c.hidden, c.fc)
        self.out = nn.Linear(c.fc, CLASSES)
        if c.pitch:  # log2 period - PERIOD_CENTRE, voicing logit
            self.pitch_head = nn.Sequential(nn.Linear(c.cond, c.cond), nn.Tanh(), nn.Linear(c.cond, 2))
        self.register_buffer("levels", mulaw_levels(BITS), persistent=False)

    @property
    def sample_inputs(self) -> int:
        """How many mu-law inputs each step takes: s[t-1], p[t], e[t-1] (and e[t-T] with pitch)."""
        return 4 if self.config.pitch else 3

    def inputs(
        self, signal: Tensor, prediction: Tensor, excitation: Tensor, past: Tensor | None = None
    ) -> Tensor:
        """(..., inputs * embedding) embeddings of s[t-1], p[t], e[t-1] (and e[t-T]), as mu-law indices."""
        parts = [self.embed_signal(signal), self.embed_signal(prediction), self.embed_excitation(excitation)]
        if self.config.pitch:
            parts.append(self.embed_excitation(excitation if past is None else past))
        return torch.cat(parts, -1)

    def forward(
        self, cond: Tensor, signal: Tensor, prediction: Tensor, excitation: Tensor, past: Tensor | None = None
    ) -> Tensor:
        """Teacher-forced logits of e[t] (B, S, 256) from sample-rate conditioning (B, S, cond) and the
        mu-law indices (B, S) of s[t-1], p[t], e[t-1] and, with pitch, e[t-T]."""
        x, _ = self.rnn(torch.cat([cond, self.inputs(signal, prediction, excitation, past)], -1))
        return self.out(torch.relu(self.fc(x)))

    def pitch(self, cond: Tensor) -> tuple[Tensor, Tensor]:
        """(..., cond) frames -> their predicted log2 pitch period in samples, and voicing logits.

        The head reads the conditioning without training it: the conditioning serves the excitation. A head
        that trained it too had gradients three times the excitation's (norms 0.56 and 0.19, measured at
        step 200) and held the excitation's loss back (3.541 against 3.530 at step 250)."""
        log_period, voicing = self.pitch_head(cond.detach()).unbind(-1)
        return log_period + PERIOD_CENTRE, voicing

    def periods(self, cond: Tensor, min_lag: int, max_lag: int) -> Tensor:
        """(..., cond) frames -> the long-term predictor's lag per frame, whole samples in [min_lag, max_lag]."""
        log_period, _ = self.pitch(cond)
        return torch.exp2(log_period).round().clamp(min_lag, max_lag).long()

    @torch.no_grad()
    def input_tables(self) -> Tensor:
        """(inputs, 256, 3H): the input gates' share of s[t-1], p[t], e[t-1] (and e[t-T]) per mu-law index."""
        index = torch.arange(CLASSES)
        n, e = self.sample_inputs, self.config.embedding
        embedded = self.inputs(index, index, index, index).unflatten(-1, (n, e))
        weights = self.rnn.weight_ih_l0[:, self.config.cond :].unflatten(1, (n, e))
        return torch.einsum("cke,gke->kcg", embedded, weights)

    def waveform(self, values: Tensor) -> Tensor:
        """(B, S, 1) generated samples -> (B, S) waveforms (the WaveRNN's bands need filtering here)."""
        return values[..., 0]
