"""Padded batches: which frames are real, and how to reverse each row within its own length."""

from __future__ import annotations

import torch
from torch import Tensor


def lengths_mask(lengths: Tensor, size: int, device: torch.device | None = None) -> Tensor:
    """(B, size) booleans: True on the first lengths[b] positions of each row."""
    device = device or lengths.device
    return torch.arange(size, device=device)[None, :] < lengths.to(device)[:, None]


def reversal_index(lengths: Tensor, steps: int, device: torch.device | None = None) -> Tensor:
    """(B, steps) frame indices that reverse each row's first lengths[b] frames and leave its padding in
    place, for ``x.gather(1, ...)`` along time; applying it twice gives the original order."""
    device = device or lengths.device
    time = torch.arange(steps, device=device)[None, :]
    lengths = lengths.to(device)[:, None]
    return torch.where(time < lengths, lengths - 1 - time, time)
