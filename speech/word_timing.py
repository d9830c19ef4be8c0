"""Word timestamps and confidences from CTC posteriors by forced alignment of the decoded text.

Whatever produced the text (greedy or beam search with an LM), aligning it back to the posteriors gives each
character a span of frames; words are the runs between spaces, their confidence the mean posterior of their
characters on their aligned frames.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from speech.ctc import as_array, collapse, forced_path, token_runs
from speech.text.vocab import CharVocab
from speech.transcript import Word

log = logging.getLogger(__name__)


def align_words(
    log_probs: Any,
    text: str,
    vocab: CharVocab,
    seconds_per_frame: float,
    offset: float = 0.0,
    limit: float = float("inf"),
) -> list[Word]:
    """Words of ``text`` with start/end times (seconds, plus ``offset``, at most ``limit``: the last frame
    may cover padding past the audio's end) from (frames, vocab) posteriors (a numpy array or a tensor)."""
    if not text.strip():
        return []
    aligned = best_path(as_array(log_probs).astype(np.float32, copy=False), text, vocab)
    if aligned is None:
        log.warning("no timestamps for %r: more characters than frames", text)
        return []
    space = vocab.encode(" ")[0]
    words, current = [], []
    for span in [*token_runs(*aligned, vocab.blank), None]:
        if span is None or span[0] == space:
            if current:
                frames = sum(end - begin for _, begin, end, _ in current)
                confidence = sum(score * (end - begin) for _, begin, end, score in current) / frames
                words.append(
                    Word(
                        text=vocab.decode([token for token, *_ in current]),
                        start=round(min(limit, offset + current[0][1] * seconds_per_frame), 3),
                        end=round(min(limit, offset + current[-1][2] * seconds_per_frame), 3),
                        confidence=round(min(1.0, max(0.0, confidence)), 4)
                        if math.isfinite(confidence)
                        else 0.0,
                    )
                )
            current = []
        else:
            current.append(span)
    return words


def best_path(log_probs: np.ndarray, text: str, vocab: CharVocab) -> tuple[np.ndarray, np.ndarray] | None:
    """Each frame's token on the most likely CTC path that spells ``text``, and its posterior; None when
    there are more characters than frames can hold.

    When the frame-wise best tokens already spell the text (always so for greedy output, often for beam
    search), that path is the most likely of all, so it needs no search: most of a batch skips
    ``forced_align``."""
    tokens = log_probs.argmax(-1)
    if vocab.decode(collapse(tokens.tolist(), vocab.blank)) == text:
        return tokens, np.exp(np.take_along_axis(log_probs, tokens[:, None], -1)[:, 0])
    forced = forced_path(log_probs, vocab.encode(text), vocab.blank)
    return None if forced is None else (forced[0], np.exp(forced[1]))
