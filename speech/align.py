"""Word timestamps and confidences from CTC posteriors by forced alignment of the decoded text.

Whatever produced the text (greedy or beam search with an LM), aligning it back to the posteriors gives each
character a span of frames; words are the runs between spaces, their confidence the mean posterior of their
characters on their aligned frames.
"""

from __future__ import annotations

import logging
import math

import torch
import torchaudio.functional as AF
from torch import Tensor

from speech.text.vocab import CharVocab
from speech.transcript import Word

log = logging.getLogger(__name__)


def align_words(
    log_probs: Tensor,
    text: str,
    vocab: CharVocab,
    seconds_per_frame: float,
    offset: float = 0.0,
    limit: float = float("inf"),
) -> list[Word]:
    """Words of ``text`` with start/end times (seconds, plus ``offset``, at most ``limit``: the last frame
    may cover padding past the audio's end) from (frames, vocab) posteriors."""
    if not text.strip():
        return []
    targets = torch.tensor([vocab.encode(text)], dtype=torch.int32)
    try:
        path, scores = AF.forced_align(log_probs[None].float().cpu(), targets, blank=vocab.blank)
    except RuntimeError as error:  # more characters than frames: cannot happen for decoded text of this input
        log.warning("no timestamps for %r: %s", text, error)
        return []
    spans = AF.merge_tokens(path[0], scores[0].exp(), blank=vocab.blank)
    space = vocab.encode(" ")[0]
    words, current = [], []
    for span in [*spans, None]:
        if span is None or span.token == space:
            if current:
                confidence = sum(s.score * (s.end - s.start) for s in current) / sum(
                    s.end - s.start for s in current
                )
                words.append(
                    Word(
                        text=vocab.decode([s.token for s in current]),
                        start=round(min(limit, offset + current[0].start * seconds_per_frame), 3),
                        end=round(min(limit, offset + current[-1].end * seconds_per_frame), 3),
                        confidence=round(min(1.0, max(0.0, float(confidence))), 4)
                        if math.isfinite(confidence)
                        else 0.0,
                    )
                )
            current = []
        else:
            current.append(span)
    return words
