"""Folding long inputs for batch generation: cut each into pieces that start a few frames early, generate
all pieces as one batch, and join them again with an equal-power cross-fade (every GRU vocoder here)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from speech.vocoder.base import VocoderError


@dataclass
class Piece:
    utterance: int
    start: int  # first generated frame
    end: int  # one past the last frame
    fade_in: int  # frames at the start shared with the previous piece (0 for an utterance's first piece)
    fade_out: bool  # whether the next piece overlaps this one's end


def fold(lengths: list[int], fold_frames: int, overlap_frames: int) -> list[Piece]:
    """Cut utterances of ``lengths`` frames into pieces of at most ``fold_frames + overlap_frames`` frames."""
    if fold_frames <= overlap_frames:
        raise VocoderError(f"fold_frames ({fold_frames}) must exceed overlap_frames ({overlap_frames})")
    pieces = []
    for utterance, length in enumerate(lengths):
        starts = list(range(0, length, fold_frames))
        for i, start in enumerate(starts):
            begin = max(0, start - overlap_frames) if i else 0
            end = min(start + fold_frames, length)
            pieces.append(Piece(utterance, begin, end, start - begin, i < len(starts) - 1))
    return pieces


def overlap_add(
    pieces: list[Piece], generated: list[np.ndarray], lengths: list[int], steps_per_frame: int, overlap: int
) -> list[np.ndarray]:
    """Reassemble generated pieces (steps, bands) into one (frames * steps_per_frame, bands) array per
    utterance: the first half of each overlap is dropped, the second half cross-faded with equal power."""
    bands = generated[0].shape[-1] if generated else 1
    outputs = [np.zeros((length * steps_per_frame, bands), np.float32) for length in lengths]
    shared = overlap * steps_per_frame
    warm = shared // 2
    fade = shared - warm
    ramp = (np.arange(fade, dtype=np.float64) + 0.5) / max(fade, 1) * (math.pi / 2)
    fade_in, fade_out = np.sin(ramp).astype(np.float32), np.cos(ramp).astype(np.float32)
    for piece, values in zip(pieces, generated, strict=True):
        steps = (piece.end - piece.start) * steps_per_frame
        weight = np.ones(steps, np.float32)
        if piece.fade_in:
            weight[:warm] = 0
            weight[warm:shared] = fade_in
        if piece.fade_out:
            weight[steps - fade :] *= fade_out
        offset = piece.start * steps_per_frame
        outputs[piece.utterance][offset : offset + steps] += values[:steps] * weight[:, None]
    return outputs


def piece_frames(
    pieces: list[Piece], lengths: list[int], device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each piece reads its inputs: (pieces, 1) utterance rows and (pieces, width + 1) frame indices,
    the widest piece's frames plus one (for interpolation or the next frame's filter), past an input's end
    repeating its last frame. ``padded[rows, frames]`` gathers every piece's frames at once."""
    width = max(piece.end - piece.start for piece in pieces)

    def column(values: list[int]) -> torch.Tensor:
        return torch.tensor(values, device=device)[:, None]

    frames = column([p.start for p in pieces]) + torch.arange(width + 1, device=device)
    last = column([lengths[p.utterance] - 1 for p in pieces])
    return column([p.utterance for p in pieces]), frames.minimum(last)
