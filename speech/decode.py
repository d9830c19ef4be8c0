"""CTC decoding: from per-frame log-probabilities to text."""

from __future__ import annotations

from torch import Tensor

from speech.text.vocab import CharVocab


def greedy_decode(log_probs: Tensor, lengths: Tensor, vocab: CharVocab) -> list[str]:
    """Best path: the most likely symbol per frame, repeats merged, blanks removed."""
    best = log_probs.argmax(-1).cpu()
    return [vocab.decode_ctc(best[row, :length].tolist()) for row, length in enumerate(lengths.tolist())]
