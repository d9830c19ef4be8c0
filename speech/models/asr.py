"""The recognizer's acoustic model: log-mel frames -> character log-probabilities for CTC.

    features (B, T, mels) -> normalise (padding zeroed) [-> minus the utterance's mean] -> SpecAugment (training)
    -> stack k frames (B, T/k, k*mels) -> linear -> L x bidirectional LSTM -> linear
    -> log-softmax over blank + characters (B, T/k, V)

Stacking frames cuts the LSTM's sequence length k-fold (CTC needs only a few outputs per character), which is
most of the model's speed on long audio.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from speech.features import GlobalNormalizer, SpecAugment, SpecAugmentConfig
from speech.models.padding import lengths_mask
from speech.models.rnn import BiRNN


@dataclass
class ASRModelConfig:
    input_dims: int = 80
    stack: int = 3  # frames stacked into one LSTM step (frame-rate reduction)
    hidden: int = 256  # LSTM units per direction
    layers: int = 4
    dropout: float = 0.1
    vocab_size: int = 29  # CTC blank + characters
    # Subtract each utterance's mean frame after the global normalisation: a microphone's or channel's fixed
    # filter adds one constant to every log-mel frame, so this removes it (cepstral mean normalisation). On
    # short utterances the mean depends on the silence around the words too: it cost isolated digits 7 points
    # (pipelines/fsdd/README.md), so it is off by default.
    utterance_mean: bool = False


class ASRModel(nn.Module):
    def __init__(self, config: ASRModelConfig, augment: SpecAugmentConfig | None = None):
        super().__init__()
        self.config = config
        self.normalize = GlobalNormalizer(torch.zeros(config.input_dims), torch.ones(config.input_dims))
        self.augment = SpecAugment(augment) if augment else None
        self.input = nn.Linear(config.input_dims * config.stack, config.hidden)
        self.lstm = BiRNN(config.hidden, config.hidden, config.layers, config.dropout)
        self.dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(2 * config.hidden, config.vocab_size)

    def output_lengths(self, lengths: Tensor) -> Tensor:
        return torch.div(lengths + self.config.stack - 1, self.config.stack, rounding_mode="floor")

    def forward(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Returns log-probabilities (B, T', V) and their lengths (B,)."""
        batch, frames, dims = features.shape
        mask = lengths_mask(lengths, frames, features.device)[..., None]
        x = self.normalize(features) * mask
        if self.config.utterance_mean:
            x = (x - x.sum(1, keepdim=True) / mask.sum(1, keepdim=True).clamp_min(1)) * mask
        if self.augment is not None:
            x = self.augment(x, lengths)
        k = self.config.stack
        x = F.pad(x, (0, 0, 0, -frames % k)).reshape(batch, -1, k * dims)
        out_lengths = self.output_lengths(lengths)
        x = self.dropout(torch.relu(self.input(x)))
        x = self.lstm(x, out_lengths)
        return self.output(self.dropout(x)).log_softmax(-1), out_lengths
