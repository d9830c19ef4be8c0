"""The acoustic model: phonemes -> log-mel frames, with explicit durations (Non-Attentive Tacotron style).

    tokens (B, N) -> embedding -> convs -> BiLSTM (+ speaker embedding) = memory (B, N, W)
    memory -> convs -> log(1 + frames) per token                       (duration predictor)
    memory -> repeat each token for its frames, + position inside it  = conditioning (B, T, W + 1)
    [conditioning_t, prenet(frame_{t-1})] -> LSTM decoder -> linear(+ conditioning_t) -> frame_t
    frames -> conv post-net -> + frames                                (residual refinement)

Training feeds the true previous frame and the aligned durations (teacher forcing); generation feeds back its
own frames over durations predicted and scaled by 1/rate. Every token is read for exactly its frames, so the
output is ``sum(durations)`` frames long: it cannot skip, repeat or run on, however long the input. Frames
are predicted in the corpus-normalised log-mel space and returned as log-mel (:class:`FeatureExtractor`'s).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from speech.features import GlobalNormalizer
from speech.models.padding import lengths_mask
from speech.models.rnn import BiRNN


@dataclass
class TTSLossConfig:
    """What the acoustic model's training minimises, beside its architecture."""

    duration_weight: float = 1.0  # weight of the log-duration MSE in the loss


@dataclass
class TTSModelConfig:
    vocab_size: int = 75  # padding + phonemes + word boundary + pause marks (set by the task)
    n_mels: int = 80  # set by the task from the features
    speakers: list[str] = field(default_factory=list)  # names of the voices; empty: a single voice
    embed: int = 256
    conv_layers: int = 3
    kernel: int = 5
    encoder: int = 128  # BiLSTM units per direction
    duration_hidden: int = 256
    prenet: int = 128
    decoder: int = 512  # LSTM units per layer
    decoder_layers: int = 2
    postnet: int = 256
    postnet_layers: int = 5
    dropout: float = 0.1
    prenet_dropout: float = 0.5  # on in generation too (Tacotron 2): the decoder must not copy its input


class TTSModel(nn.Module):
    def __init__(self, config: TTSModelConfig):
        super().__init__()
        c = self.config = config
        width = 2 * c.encoder
        self.normalize = GlobalNormalizer(torch.zeros(c.n_mels), torch.ones(c.n_mels))
        self.embed = nn.Embedding(c.vocab_size, c.embed, padding_idx=0)
        self.convs = nn.ModuleList(
            nn.Conv1d(c.embed, c.embed, c.kernel, padding=c.kernel // 2) for _ in range(c.conv_layers)
        )
        self.encoder = BiRNN(c.embed, c.encoder)
        self.speaker = nn.Embedding(len(c.speakers), width) if c.speakers else None
        self.duration = nn.ModuleList(
            [
                nn.Conv1d(width, c.duration_hidden, 3, padding=1),
                nn.Conv1d(c.duration_hidden, c.duration_hidden, 3, padding=1),
            ]
        )
        self.duration_out = nn.Linear(c.duration_hidden, 1)
        self.prenet = nn.ModuleList([nn.Linear(c.n_mels, c.prenet), nn.Linear(c.prenet, c.prenet)])
        self.decoder = nn.LSTM(
            width + 1 + c.prenet,
            c.decoder,
            c.decoder_layers,
            batch_first=True,
            dropout=c.dropout if c.decoder_layers > 1 else 0.0,
        )
        self.project = nn.Linear(c.decoder + width + 1, c.n_mels)
        sizes = [c.n_mels] + [c.postnet] * (c.postnet_layers - 1) + [c.n_mels]
        self.postnet = nn.ModuleList(
            nn.Conv1d(a, b, 5, padding=2) for a, b in zip(sizes, sizes[1:], strict=False)
        )
        self.dropout = nn.Dropout(c.dropout)

    def encode(
        self, tokens: Tensor, lengths: Tensor, speakers: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Token ids (B, N) -> memory (B, N, W) and predicted log(1 + frames) per token (B, N)."""
        mask = lengths_mask(lengths, tokens.shape[1], tokens.device)[:, None].float()  # (B, 1, N)
        x = self.embed(tokens).transpose(1, 2)
        for conv in self.convs:
            x = self.dropout(torch.relu(conv(x * mask)))
        memory = self.encoder(x.transpose(1, 2), lengths)
        if self.speaker is not None and speakers is not None:
            memory = memory + self.speaker(speakers)[:, None]
        x = memory.transpose(1, 2)
        for conv in self.duration:
            x = self.dropout(torch.relu(conv(x * mask)))
        return memory, self.duration_out(x.transpose(1, 2)).squeeze(-1) * mask[:, 0]

    @staticmethod
    def upsample(memory: Tensor, durations: Tensor) -> tuple[Tensor, Tensor]:
        """Repeat token i of each row durations[i] times (0: never read) and append each frame's position
        inside its token, in (0, 1). Returns conditioning (B, T, W + 1) and frame counts (B,)."""
        batch, tokens, width = memory.shape
        ends = durations.long().cumsum(1)
        frame_lengths = ends[:, -1]
        steps = int(frame_lengths.max()) if batch else 0
        time = torch.arange(steps, device=memory.device).expand(batch, steps).contiguous()
        index = torch.searchsorted(ends, time, right=True).clamp(max=tokens - 1)
        starts = (ends - durations.long()).gather(1, index)
        position = (time - starts + 0.5) / durations.gather(1, index).clamp_min(1)
        x = torch.cat([memory.gather(1, index[..., None].expand(-1, -1, width)), position[..., None]], -1)
        return x * lengths_mask(frame_lengths, steps)[..., None], frame_lengths

    def durations(
        self, log_durations: Tensor, lengths: Tensor, rate: float = 1.0, minimum: Tensor | None = None
    ) -> Tensor:
        """Predicted frames per token, scaled by 1/rate and rounded; at least ``minimum`` (B, N) where given."""
        frames = ((log_durations.exp() - 1).clamp_min(0) / rate).round().long()
        if minimum is not None:
            frames = frames.maximum(minimum.long())
        return frames * lengths_mask(lengths, frames.shape[1], frames.device)

    def _prenet(self, frames: Tensor) -> Tensor:
        for linear in self.prenet:
            frames = F.dropout(torch.relu(linear(frames)), self.config.prenet_dropout, training=True)
        return frames

    def _postnet(self, frames: Tensor, mask: Tensor) -> Tensor:
        """Normalised frames (B, T, mels) plus the post-net's residual; padding frames set to zero."""
        x = (frames * mask).transpose(1, 2)
        for i, conv in enumerate(self.postnet):
            x = conv(x * mask.transpose(1, 2))
            x = self.dropout(torch.tanh(x)) if i < len(self.postnet) - 1 else x
        return (frames + x.transpose(1, 2)) * mask

    def forward(
        self, tokens: Tensor, lengths: Tensor, durations: Tensor, mel: Tensor, speakers: Tensor | None = None
    ):
        """Teacher forcing on log-mel targets (B, T, mels) with T = max(sum(durations)). Returns normalised
        frames before and after the post-net (B, T, mels), predicted log(1 + frames) (B, N), frame counts."""
        memory, log_durations = self.encode(tokens, lengths, speakers)
        cond, frame_lengths = self.upsample(memory, durations)
        previous = F.pad(self.normalize(mel)[:, :-1], (0, 0, 1, 0))
        hidden, _ = self.decoder(torch.cat([cond, self._prenet(previous)], -1))
        before = self.project(torch.cat([self.dropout(hidden), cond], -1))
        mask = lengths_mask(frame_lengths, before.shape[1])[..., None].float()
        return before, self._postnet(before, mask), log_durations, frame_lengths

    @torch.no_grad()
    def teacher_forced(
        self, tokens: Tensor, lengths: Tensor, durations: Tensor, mel: Tensor, speakers: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Log-mel frames (B, T, mels) predicted from the true durations and previous frames of recordings
        ``mel``: aligned to them sample for sample, yet smoothed as the voice smooths, so a vocoder trained
        to turn them into the recordings learns what generation will hand it. Also the frame counts. Call it
        in eval mode: the pre-net's dropout stays on, as in generation, but no other."""
        _, after, _, frame_lengths = self(tokens, lengths, durations, mel, speakers)
        mask = lengths_mask(frame_lengths, after.shape[1])[..., None].float()
        return self.normalize.inverse(after) * mask, frame_lengths

    @torch.no_grad()
    def generate(self, tokens: Tensor, lengths: Tensor, durations: Tensor, speakers: Tensor | None = None):
        """Log-mel frames (B, T, mels) for given frames per token, one decoder step per frame; frame counts."""
        memory, _ = self.encode(tokens, lengths, speakers)
        cond, frame_lengths = self.upsample(memory, durations)
        frame = cond.new_zeros(len(tokens), 1, self.config.n_mels)
        state, frames = None, []
        for step in range(cond.shape[1]):
            now = cond[:, step : step + 1]
            hidden, state = self.decoder(torch.cat([now, self._prenet(frame)], -1), state)
            frame = self.project(torch.cat([hidden, now], -1))
            frames.append(frame)
        before = torch.cat(frames, 1) if frames else cond.new_zeros(len(tokens), 0, self.config.n_mels)
        mask = lengths_mask(frame_lengths, before.shape[1])[..., None].float()
        return self.normalize.inverse(self._postnet(before, mask)) * mask, frame_lengths
