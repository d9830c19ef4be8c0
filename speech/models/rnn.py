"""A bidirectional multi-layer LSTM or GRU over padded batches that gives what packing gives, faster.

On a CPU, PyTorch runs a packed batch of unequal lengths through its generic RNN code, about twice as slow
as the fused kernel it uses for a plain padded batch (measured: 3 BiLSTM layers of 192 units, 22 sequences,
forward and backward, 0.68 s packed against 0.31 s padded). So each direction here is its own one-layer RNN
over the padded batch. The backward one reads every sequence reversed within its own length, so at each real
frame both directions see exactly the frames packing would show them; the forward direction is causal, so
trailing padding never reaches a real frame. Outputs at padding frames are set to zero, as packing leaves them.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from speech.models.padding import lengths_mask, reverse_within_lengths


class BiRNN(nn.Module):
    """``layers`` bidirectional layers of ``hidden`` units per direction; input (B, T, input_size) and
    lengths (B,), output (B, T, 2 * hidden) with zeros beyond each length. ``cell`` is nn.LSTM or nn.GRU;
    ``dropout`` applies between layers, as in nn.LSTM."""

    def __init__(
        self, input_size: int, hidden: int, layers: int = 1, dropout: float = 0.0, cell: type = nn.LSTM
    ):
        super().__init__()
        sizes = [input_size] + [2 * hidden] * (layers - 1)
        self.forward_layers = nn.ModuleList(cell(size, hidden, batch_first=True) for size in sizes)
        self.backward_layers = nn.ModuleList(cell(size, hidden, batch_first=True) for size in sizes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        mask = lengths_mask(lengths, x.shape[1], x.device)[..., None]
        for layer, (forward_rnn, backward_rnn) in enumerate(
            zip(self.forward_layers, self.backward_layers, strict=True)
        ):
            if layer:
                x = self.dropout(x)
            backward = reverse_within_lengths(backward_rnn(reverse_within_lengths(x, lengths))[0], lengths)
            x = torch.cat([forward_rnn(x)[0], backward], dim=-1) * mask
        return x
