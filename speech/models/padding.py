"""Padded batches: which frames are real, and reversing each row within its own length."""

from __future__ import annotations

import torch
from torch import Tensor


def lengths_mask(lengths: Tensor, size: int, device: torch.device | None = None) -> Tensor:
    """(B, size) booleans: True on the first lengths[b] positions of each row."""
    device = device or lengths.device
    return torch.arange(size, device=device)[None, :] < lengths.to(device)[:, None]


def reverse_within_lengths(x: Tensor, lengths: Tensor) -> Tensor:
    """(B, T, D) -> each row's first lengths[b] frames in reverse order, its padding left in place.
    Its own inverse."""
    time = torch.arange(x.shape[1], device=x.device)[None, :]
    lengths = lengths.to(x.device)[:, None]
    index = torch.where(time < lengths, lengths - 1 - time, time)
    return x.gather(1, index[..., None].expand(-1, -1, x.shape[2]))
