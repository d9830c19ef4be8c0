"""Phoneme durations for training the acoustic model, by CTC forced alignment with our own phoneme recognizer.

    aligner = PhonemeAligner.load("exp/aligner/best")
    tokens, durations = aligner.align(samples, "The cat sat.")   # durations in feature frames (hop 160)

The aligner (a phoneme-level BiLSTM-CTC model, task ``aligner``) gives each phoneme a span of frames where it
fires. CTC spikes are short and sit anywhere inside their sound, so the frames between spans are shared out:

- silence (frames far below the utterance's loudest) in a gap where the text has a word boundary or a pause
  mark goes to that separator token (a pause mark first, else the first boundary); the frames before it go
  to the phoneme before, the frames after it to the phoneme after;
- any other gap is split at its middle between the two phonemes around it;
- every utterance starts and ends with a word boundary (:func:`synthesis_tokens`), which takes the silence
  before and after the speech.

So every frame belongs to exactly one token: the durations sum to the utterance's frame count, every phoneme
has at least one frame, and separators have only silence (often none).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from speech.ctc import forced_path, token_runs
from speech.device import resolve_device
from speech.errors import SpeechError
from speech.features import FeatureConfig, FeatureExtractor
from speech.models.asr import ASRModel
from speech.registry import load_model
from speech.text.normalize import PAUSE_MARKS
from speech.text.phonemes import Phonemizer, is_separator, synthesis_tokens
from speech.text.vocab import AlignerVocab

MIN_PAUSE_FRAMES = 2  # a silent run shorter than this inside a gap is no pause


class AlignmentError(SpeechError):
    """An utterance that cannot be aligned (e.g. more phonemes than frames); the message says why."""


def silent_frames(logmel: Tensor, silence_db: float = 40.0) -> Tensor:
    """(frames,) booleans: frames whose mel energy is more than ``silence_db`` below the loudest frame's."""
    energy = torch.logsumexp(logmel.float(), dim=-1)
    return energy < energy.max() - silence_db * math.log(10) / 10


def _silent_run(silent: Sequence[bool], lo: int, hi: int, where: str) -> tuple[int, int]:
    """The silent run of [lo, hi) touching ``lo`` (where="start"), touching ``hi`` ("end"), or the longest
    one of at least MIN_PAUSE_FRAMES ("inside"); an empty run if there is none."""
    if where == "start":
        end = lo
        while end < hi and silent[end]:
            end += 1
        return lo, end
    if where == "end":
        start = hi
        while start > lo and silent[start - 1]:
            start -= 1
        return start, hi
    best, start = (lo, lo), None
    for index in range(lo, hi + 1):
        if index < hi and silent[index]:
            start = index if start is None else start
        elif start is not None:
            if index - start > best[1] - best[0]:
                best = (start, index)
            start = None
    return best if best[1] - best[0] >= MIN_PAUSE_FRAMES else (lo, lo)


def fill_durations(
    tokens: Sequence[str], spans: Sequence[tuple[int, int]], silent: Sequence[bool]
) -> list[int]:
    """Frames per token from the phonemes' CTC spans (frame ranges, in order, one per non-separator token)
    and a per-frame silence mask; see the module docstring for the rules. Sums to ``len(silent)``."""
    total = len(silent)
    phones = [i for i, token in enumerate(tokens) if not is_separator(token)]
    if len(phones) != len(spans):
        raise AlignmentError(f"{len(spans)} spans for {len(phones)} phonemes")
    durations = [0] * len(tokens)
    if not phones:
        if tokens:
            durations[0] = total
        return durations
    for index, (start, end) in zip(phones, spans, strict=True):
        durations[index] += end - start
    # the gaps: before the first span, between spans, after the last; each with the tokens around it
    bounds = [(0, spans[0][0], None, phones[0])]
    bounds += [(spans[k][1], spans[k + 1][0], phones[k], phones[k + 1]) for k in range(len(phones) - 1)]
    bounds.append((spans[-1][1], total, phones[-1], None))
    for lo, hi, before, after in bounds:
        first = 0 if before is None else before + 1
        separators = list(range(first, len(tokens) if after is None else after))
        where = "start" if before is None else "end" if after is None else "inside"
        a, b = _silent_run(silent, lo, hi, where) if separators else (lo, lo)
        if b > a:
            marks = [i for i in separators if tokens[i] in PAUSE_MARKS]
            durations[(marks or separators)[0]] += b - a
        else:  # no pause here: the phonemes around the gap share it
            a = b = (
                (lo + hi + 1) // 2
                if before is not None and after is not None
                else (hi if after is None else lo)
            )
        if before is not None:
            durations[before] += a - lo
        if after is not None:
            durations[after] += hi - b
    return durations


def spans_from_log_probs(log_probs: Tensor, targets: Sequence[int], blank: int, stack: int, frames: int):
    """Forced alignment of ``targets`` to (steps, vocab) CTC log-probabilities at ``stack`` frames a step:
    one (start, end) feature-frame range per target."""
    if not targets:
        return []
    forced = forced_path(log_probs, targets, blank)
    if forced is None:
        raise AlignmentError(f"cannot align {len(targets)} phonemes to {len(log_probs)} steps")
    runs = token_runs(forced[0], forced[1], blank)
    if len(runs) != len(targets):
        raise AlignmentError(f"alignment found {len(runs)} of {len(targets)} phonemes")
    return [(min(start * stack, frames), min(end * stack, frames)) for _, start, end, _ in runs]


class PhonemeAligner:
    def __init__(self, model: ASRModel, features: FeatureConfig, vocab: AlignerVocab, device: str = "cpu"):
        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)
        self.features = features
        self.extractor = FeatureExtractor(features)
        self.vocab = vocab
        self.phonemizer = Phonemizer()

    @classmethod
    def load(cls, folder: str | os.PathLike, device: str = "cpu") -> PhonemeAligner:
        """A model folder as ``speech train conf/aligner/...`` exports it."""
        loaded = load_model(folder, "aligner", "a phoneme aligner")
        return cls(loaded.model, loaded.features, loaded.vocab, device)

    def tokens(self, text: str) -> list[str]:
        """The acoustic model's input tokens for a transcript."""
        return synthesis_tokens(self.phonemizer.phonemize(text))

    @torch.inference_mode()
    def align(self, samples: np.ndarray, text: str, silence_db: float = 40.0) -> tuple[list[str], list[int]]:
        """(tokens, frames per token) for one utterance at the aligner's sample rate; the frames are the
        feature frames (hop_length) of ``samples`` and sum to their count."""
        tokens = self.tokens(text)
        if all(is_separator(token) for token in tokens):
            raise AlignmentError("the transcript has no words to align")
        logmel = self.extractor(torch.from_numpy(np.ascontiguousarray(samples, np.float32)))
        log_probs, lengths = self.model(logmel[None].to(self.device), torch.tensor([len(logmel)]))
        targets = self.vocab.encode_tokens(t for t in tokens if not is_separator(t))
        spans = spans_from_log_probs(
            log_probs[0, : lengths[0]], targets, self.vocab.blank, self.model.config.stack, len(logmel)
        )
        durations = fill_durations(tokens, spans, silent_frames(logmel, silence_db).tolist())
        return tokens, durations
