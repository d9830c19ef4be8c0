"""Batches of similar length under a budget of padded length.

Recurrent models pay for padding: a batch costs (longest item x batch size). :func:`length_batches` is the
one rule, used by training (durations, seconds), transcription (samples) and synthesis (phonemes).
Streaming training data cannot be sorted globally, so samples are gathered in a buffer, cut into batches
by that rule, and the batches are shuffled before they are yielded (:func:`bucket_batches`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:  # torch is imported where batches are made, so that length_batches alone does not need it
    import torch
    from torch import Tensor

T = TypeVar("T")


def length_batches(
    items: Sequence[T], cost: Callable[[T], float], budget: float, max_size: int | None = None
) -> list[list[T]]:
    """``items`` sorted by ``cost`` (stable) and cut into batches whose padded cost (the longest item's cost
    times the batch size) stays within ``budget``, and at most ``max_size`` long. An item over the budget on
    its own still forms a batch of one rather than being lost."""
    batches, batch = [], []
    for item in sorted(items, key=cost):
        padded = cost(item) * (len(batch) + 1)  # sorted: this item is the longest so far
        if batch and (padded > budget or (max_size is not None and len(batch) >= max_size)):
            batches.append(batch)
            batch = []
        batch.append(item)
    if batch:
        batches.append(batch)
    return batches


def shuffle_buffer(samples: Iterable[dict], size: int, seed: int | str) -> Iterator[dict]:
    """Approximately shuffle a stream by keeping ``size`` samples and yielding a random one as each arrives."""
    rng = random.Random(seed)
    buffer: list[dict] = []
    for sample in samples:
        if len(buffer) < size:
            buffer.append(sample)
            continue
        index = rng.randrange(size)
        yield buffer[index]
        buffer[index] = sample
    rng.shuffle(buffer)
    yield from buffer


def bucket_batches(
    samples: Iterable[dict],
    batch_seconds: float,
    buffer_size: int = 512,
    max_batch_size: int = 256,
    shuffle_seed: int | str | None = None,
) -> Iterator[list[dict]]:
    """Group samples (dicts with a ``duration`` in seconds) into length-homogeneous batches.

    Batches come shortest first within each buffer, or shuffled when ``shuffle_seed`` is given (training).
    A sample longer than ``batch_seconds`` on its own still forms a batch of one rather than being lost.
    """
    rng = random.Random(shuffle_seed) if shuffle_seed is not None else None
    buffer: list[dict] = []

    def flush() -> Iterator[list[dict]]:
        batches = length_batches(buffer, lambda sample: sample["duration"], batch_seconds, max_batch_size)
        if rng:
            rng.shuffle(batches)
        buffer.clear()
        yield from batches

    for sample in samples:
        buffer.append(sample)
        if len(buffer) >= buffer_size:
            yield from flush()
    yield from flush()


@dataclass
class Batch:
    """Padded model inputs: ``features`` (batch, frames, dims) with ``lengths`` (batch,) frame counts, and, when
    asked for, the waveforms they came from, zero-padded to (batch, samples), for models that predict audio;
    ``phonemes`` and ``durations`` per utterance (None where a sample has none) for the acoustic model."""

    features: Tensor
    lengths: Tensor
    texts: list[str]
    ids: list[str]
    speakers: list[str]
    audio_seconds: float  # real audio in the batch, without padding, for throughput reports
    audio: Tensor | None = None
    phonemes: list[list[str] | None] | None = None
    durations: list[list[int] | None] | None = None
    frame_shifts: list[float | None] | None = None  # seconds per duration frame, where the alignment says

    def to(self, device: torch.device | str) -> Batch:
        return Batch(
            self.features.to(device, non_blocking=True),
            self.lengths,
            self.texts,
            self.ids,
            self.speakers,
            self.audio_seconds,
            None if self.audio is None else self.audio.to(device, non_blocking=True),
            self.phonemes,
            self.durations,
            self.frame_shifts,
        )


def featurize_and_pad(
    waveforms: list[np.ndarray],
    featurize: Callable[[Tensor], Tensor],
    stored: list[np.ndarray | None] | None = None,
) -> tuple[Tensor, Tensor]:
    """Features per waveform, zero-padded to (batch, frames, dims), with each one's frame count; where
    ``stored`` has an utterance's frames (shards that store them), those instead of computed ones."""
    import torch

    stored = stored or [None] * len(waveforms)
    features = [
        featurize(torch.from_numpy(waveform)) if frames is None else torch.from_numpy(frames)
        for waveform, frames in zip(waveforms, stored, strict=True)
    ]
    return torch.nn.utils.rnn.pad_sequence(features, batch_first=True), torch.tensor(
        [len(f) for f in features]
    )


def collate(samples: list[dict], featurize: Callable[[Tensor], Tensor], keep_audio: bool = False) -> Batch:
    """Compute features per utterance (or take the ones its shard stores) and pad them into one batch, with
    the padded waveforms if asked."""
    import torch

    waveforms = [sample["audio"] for sample in samples]
    padded, lengths = featurize_and_pad(waveforms, featurize, [sample.get("features") for sample in samples])
    return Batch(
        features=padded,
        lengths=lengths,
        texts=[sample["text"] for sample in samples],
        ids=[sample["id"] for sample in samples],
        speakers=[sample.get("speaker", "") for sample in samples],
        audio_seconds=sum(sample["duration"] for sample in samples),
        audio=torch.nn.utils.rnn.pad_sequence([torch.from_numpy(w) for w in waveforms], batch_first=True)
        if keep_audio
        else None,
        phonemes=[sample.get("phonemes") for sample in samples],
        durations=[sample.get("durations") for sample in samples],
        frame_shifts=[sample.get("frame_shift") for sample in samples],
    )
