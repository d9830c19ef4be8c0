"""CTC in one place: the read-out of a path (repeats merged, blanks dropped), greedy decoding, one decoder
interface for greedy and beam search (:class:`speech.beam.BeamSearchDecoder` has the same ``decode``), and
the token runs along a path, from which word timing (:mod:`speech.word_timing`) and phoneme durations
(:mod:`speech.aligner`) are both built.

In numpy, so that greedy transcription through onnxruntime never imports torch; torch tensors are accepted
wherever arrays are (:func:`as_array`), and only forced alignment (torchaudio's) imports torch, when called.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np

from speech.text.vocab import CharVocab


def as_array(values: Any) -> np.ndarray:
    """``values`` as a numpy array: an array as it is, a torch tensor (any device, any float type) copied
    to the CPU, so callers holding either need no torch here."""
    if hasattr(values, "detach"):  # a torch tensor, recognised without importing torch
        values = values.detach().cpu()
        if values.is_floating_point():
            values = values.float()
        return values.numpy()
    return np.asarray(values)


def collapse(ids: Iterable[int], blank: int) -> list[int]:
    """A CTC path's read-out: runs of one id merged, then blanks dropped."""
    collapsed, previous = [], None
    for index in ids:
        index = int(index)
        if index != previous and index != blank:
            collapsed.append(index)
        previous = index
    return collapsed


def best_paths(log_probs: Any, lengths: Any) -> list[list[int]]:
    """Each row's most likely id per frame, over its first ``lengths[row]`` frames."""
    best = as_array(log_probs).argmax(-1)
    return [best[row, :length].tolist() for row, length in enumerate(as_array(lengths).tolist())]


class Decoder(Protocol):
    """What the recognizer calls, whichever decoder it was loaded with: (batch, frames, vocab)
    log-probabilities and (batch,) frame counts, numpy arrays or torch tensors, in; one text per row out."""

    def decode(self, log_probs: Any, lengths: Any) -> list[str]: ...


class GreedyDecoder:
    """Best path: the most likely symbol per frame, read out."""

    def __init__(self, vocab: CharVocab):
        self.vocab = vocab

    def decode(self, log_probs: Any, lengths: Any) -> list[str]:
        return [
            self.vocab.decode(collapse(path, self.vocab.blank)) for path in best_paths(log_probs, lengths)
        ]


def forced_path(log_probs: Any, targets: Sequence[int], blank: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The most likely path through (frames, vocab) log-probabilities that reads ``targets``: each frame's
    id and log-probability; None when the frames cannot hold the targets."""
    import torch
    import torchaudio.functional as AF

    emissions = torch.from_numpy(np.ascontiguousarray(as_array(log_probs), dtype=np.float32))
    try:
        path, scores = AF.forced_align(
            emissions[None], torch.tensor([list(targets)], dtype=torch.int32), blank=blank
        )
    except RuntimeError:
        return None
    return path[0].numpy(), scores[0].numpy()


def token_runs(path: Any, probs: Any, blank: int) -> list[tuple[int, int, int, float]]:
    """(id, first frame, end frame, mean of ``probs``) of each run of one non-blank id along a path."""
    path, probs = as_array(path), as_array(probs).astype(np.float64)
    if len(path) == 0:
        return []
    starts = np.flatnonzero(np.concatenate([[True], path[1:] != path[:-1]]))
    ends = np.append(starts[1:], len(path))
    sums = np.concatenate([[0.0], np.cumsum(probs)])
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
