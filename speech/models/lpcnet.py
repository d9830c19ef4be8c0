"""The LPC vocoder (after LPCNet, Valin & Skoglund 2019): log-mel frames -> 16 kHz waveform, one 8-bit mu-law
sample per GRU step, with the spectral envelope left to a linear-prediction filter computed from the mel.

    mel (B, F, mels) -> normalise -> conv(k=5) -> BiGRU -> cond (B, F, C)          frame rate (100 Hz)
    mel -> LPC (speech.lpc.MelLPC), 16 coefficients per frame                        frame rate
    p[t] = sum_i a_i s[t-i]                                                          sample rate (16 kHz)
    [cond(t), E(s[t-1]), E(p[t]), E_exc(e[t-1])] -> GRU(hidden) -> relu(fc) -> 256 logits of e[t]
    s[t] = p[t] + e[t]

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

from speech.models.vocoder import FrameConditioned, SegmentsConfig, mulaw_levels

BITS = 8
CLASSES = 2**BITS


@dataclass
class LPCNetLossConfig(SegmentsConfig):
    """How the LPC vocoder is taught: segments of 5 frames (800 samples), 4 per utterance, and noise of a
    random scale up to ``noise`` mu-law steps (Laplacian) in the teacher-forcing loop's excitation."""

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

    def __post_init__(self) -> None:
        if not 1 <= self.order <= 32:
            raise ValueError(f"order must be between 1 and 32, got {self.order}")

    @property
    def steps_per_frame(self) -> int:
        return self.hop_length


class LPCNet(FrameConditioned):
    def __init__(self, config: LPCNetConfig):
        super().__init__(config.input_dims, config.cond)
        self.config = c = config
        self.embed_signal = nn.Embedding(CLASSES, c.embedding)  # for s[t-1] and p[t]
        self.embed_excitation = nn.Embedding(CLASSES, c.embedding)
        self.rnn = nn.GRU(c.cond + 3 * c.embedding, c.hidden, batch_first=True)
        self.fc = nn.Linear(c.hidden, c.fc)
        self.out = nn.Linear(c.fc, CLASSES)
        self.register_buffer("levels", mulaw_levels(BITS), persistent=False)

    def inputs(self, signal: Tensor, prediction: Tensor, excitation: Tensor) -> Tensor:
        """(..., 3 * embedding) embeddings of s[t-1], p[t] and e[t-1], given as mu-law indices."""
        return torch.cat(
            [self.embed_signal(signal), self.embed_signal(prediction), self.embed_excitation(excitation)], -1
        )

    def forward(self, cond: Tensor, signal: Tensor, prediction: Tensor, excitation: Tensor) -> Tensor:
        """Teacher-forced logits of e[t] (B, S, 256) from sample-rate conditioning (B, S, cond) and the
        mu-law indices (B, S) of s[t-1], p[t] and e[t-1]."""
        x, _ = self.rnn(torch.cat([cond, self.inputs(signal, prediction, excitation)], -1))
        return self.out(torch.relu(self.fc(x)))

    @torch.no_grad()
    def input_tables(self) -> Tensor:
        """(3, 256, 3H): the input gates' share of s[t-1], p[t] and e[t-1] for each mu-law index."""
        index = torch.arange(CLASSES)
        embedded = self.inputs(index, index, index).unflatten(-1, (3, self.config.embedding))
        weights = self.rnn.weight_ih_l0[:, self.config.cond :].unflatten(1, (3, self.config.embedding))
        return torch.einsum("cke,gke->kcg", embedded, weights)

    def waveform(self, values: Tensor) -> Tensor:
        """(B, S, 1) generated samples -> (B, S) waveforms (the WaveRNN's bands need filtering here)."""
        return values[..., 0]
