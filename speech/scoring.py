"""Word and character error rates of a recognizer on labelled audio: what ``speech eval`` reports.

One function for the command line, notebooks and scripts, so every place scores with the same text
normalisation (references pass through :func:`speech.text.normalize_text`, as training targets do).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import jiwer

from speech.errors import SpeechError
from speech.text.normalize import normalize_text

if TYPE_CHECKING:
    from speech.recognizer import Recognizer


def error_rates(references: Sequence[str], hypotheses: Sequence[str]) -> dict[str, float]:
    """Corpus WER and CER of ``hypotheses`` against normalised ``references``; empty references are left out."""
    pairs = [(r, h) for r, h in zip(references, hypotheses, strict=True) if r]
    if not pairs:
        raise SpeechError("no utterance with a non-empty reference to score")
    refs, hyps = [r for r, _ in pairs], [h for _, h in pairs]
    return {"wer": jiwer.wer(refs, hyps), "cer": jiwer.cer(refs, hyps), "utterances": len(pairs)}


def evaluate(
    recognizer: Recognizer,
    audio: Sequence[str | os.PathLike],
    references: Sequence[str],
    ids: Sequence[str] | None = None,
    progress: Callable[[Iterable], Iterable] = lambda items: items,
) -> dict[str, Any]:
    """Transcribe ``audio`` and score it against ``references`` (raw text, normalised here).

    Returns ``wer``, ``cer``, ``utterances`` (scored), ``failures`` (one-line errors of unreadable files) and
    ``utterances_scored``: one row per file with its id, normalised reference, hypothesis and WER.
    """
    if len(audio) != len(references):
        raise SpeechError(f"{len(audio)} audio files but {len(references)} references")
    ids = [str(i) for i in ids] if ids is not None else [str(path) for path in audio]
    rows, failures = [], []
    results = recognizer.transcribe(audio)
    for utterance_id, text, result in progress(zip(ids, references, results, strict=True)):
        if result.error:
            failures.append(result.error)
            continue
        reference, hypothesis = normalize_text(text), result.transcript.text
        rows.append(
            {
                "id": utterance_id,
                "reference": reference,
                "hypothesis": hypothesis,
                "wer": jiwer.wer(reference, hypothesis) if reference else float(bool(hypothesis)),
            }
        )
    scores = error_rates([r["reference"] for r in rows], [r["hypothesis"] for r in rows])
    return {**scores, "failures": failures, "utterances_scored": rows}
