"""CTC in one place: the read-out of a path (repeats merged, blanks dropped), greedy decoding, one decoder
interface for greedy and beam search (:class:`speech.beam.BeamSearchDecoder` has the same ``decode``), and
the token runs along a path, from which word timing (:mod:`speech.word_timing`) and phoneme durations
(:mod:`speech.aligner`) are both built.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import torch
import torchaudio.functional as AF
from torch import Tensor

from speech.text.vocab import CharVocab


def collapse(ids: Iterable[int], blank: int) -> list[int]:
    """A CTC path's read-out: runs of one id merged, then blanks dropped."""
    collapsed, previous = [], None
    for index in ids:
        index = int(index)
        if index != previous and index != blank:
            collapsed.append(index)
        previous = index
    return collapsed


def best_paths(log_probs: Tensor, lengths: Tensor) -> list[list[int]]:
    """Each row's most likely id per frame, over its first ``lengths[row]`` frames."""
    best = log_probs.argmax(-1).cpu()
    return [best[row, :length].tolist() for row, length in enumerate(lengths.tolist())]


class Decoder(Protocol):
    """What the recognizer calls, whichever decoder it was loaded with."""

    def decode(self, log_probs: Tensor, lengths: Tensor) -> list[str]: ...


class GreedyDecoder:
    """Best path: the most likely symbol per frame, read out."""

    def __init__(self, vocab: CharVocab):
        self.vocab = vocab

    def decode(self, log_probs: Tensor, lengths: Tensor) -> list[str]:
        return [
            self.vocab.decode(collapse(path, self.vocab.blank)) for path in best_paths(log_probs, lengths)
        ]


def forced_path(log_probs: Tensor, targets: Sequence[int], blank: int) -> tuple[Tensor, Tensor] | None:
    """The most likely path through (frames, vocab) log-probabilities that reads ``targets``: each frame's
    id and log-probability; None when the frames cannot hold the targets."""
    try:
        path, scores = AF.forced_align(
            log_probs[None].float().cpu(), torch.tensor([list(targets)], dtype=torch.int32), blank=blank
        )
    except RuntimeError:
        return None
    return path[0], scores[0]


def token_runs(path: Tensor, probs: Tensor, blank: int) -> list[tuple[int, int, int, float]]:
    """(id, first frame, end frame, mean of ``probs``) of each run of one non-blank id along a path."""
    starts = torch.nonzero(_run_starts(path)).squeeze(1)
    ends = torch.cat([starts[1:], torch.tensor([len(path)])])
    sums = torch.cat([torch.zeros(1), probs.double().cumsum(0)])
    means = (sums[ends] - sums[starts]) / (ends - starts)
    keep = path[starts] != blank
    return list(
        zip(
            path[starts][keep].tolist(),
            starts[keep].tolist(),
            ends[keep].tolist(),
            means[keep].tolist(),
            strict=True,
        )
    )


def _run_starts(path: Tensor) -> Tensor:
    """True at each frame whose id differs from the frame before: where a run begins."""
    starts = torch.ones_like(path, dtype=torch.bool)
    starts[1:] = path[1:] != path[:-1]
    return starts
