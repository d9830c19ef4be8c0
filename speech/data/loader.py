"""From shards to padded feature batches: the one data path that training and evaluation share.

The stream is a pure function of (seed, epoch, rank, worker), which buys three things a trainer needs:

- distinct data per process: shards are dealt to the ``world_size x num_workers`` readers, or, when there are
  fewer shards than readers, samples are dealt round-robin, so small corpora work on many GPUs too;
- equal steps on every rank: a training stream repeats epochs forever and the trainer decides when to stop,
  so no rank runs out early and leaves the others waiting in a collective;
- exact resume: a restarted stream skips the batches already consumed. Bucketing needs only the durations in
  each sample's JSON, so skipped batches are never decoded: skipping costs reading tar files, nothing more.
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections.abc import Callable, Iterator
from itertools import count

import numpy as np
import torch
import webdataset as wds
from torch import Tensor
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from speech.audio import decode_audio
from speech.data.batching import Batch, bucket_batches, collate, shuffle_buffer
from speech.data.corruption import WaveformCorruption
from speech.data.shards import FEATURES_MEMBER, decode_features, shard_urls
from speech.errors import SpeechError

log = logging.getLogger(__name__)


def _warn_and_continue(error: Exception) -> bool:
    log.warning("skipping unreadable shard data: %s", error)
    return True


class BatchStream(IterableDataset):
    """Batches of features from shards, bucketed by duration under ``batch_seconds`` of padded audio.

    ``repeat=True`` (training) cycles through epochs forever, reshuffling each one when ``shuffle`` is set;
    ``repeat=False`` (evaluation) reads everything once in file order. Set ``skip_batches`` to the number of
    batches this rank has already consumed to resume mid-epoch. ``keep_audio`` adds the padded waveforms;
    ``corrupt`` speeds up, tilts and adds noise to the waveforms before their features, seeded per (seed,
    epoch, reader, batch).
    """

    def __init__(
        self,
        source: str | os.PathLike | list[str],
        featurize: Callable[[Tensor], Tensor],
        batch_seconds: float,
        *,
        shuffle: bool = False,
        shuffle_buffer: int = 1000,
        repeat: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        max_batch_size: int = 256,
        keep_audio: bool = False,
        corrupt: WaveformCorruption | None = None,
    ):
        super().__init__()
        self.urls = source if isinstance(source, list) else shard_urls(source)
        self.featurize = featurize
        self.batch_seconds = batch_seconds
        self.shuffle = shuffle
        self.shuffle_buffer = shuffle_buffer
        self.repeat = repeat
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.max_batch_size = max_batch_size
        self.keep_audio = keep_audio
        self.corrupt = corrupt
        self.skip_batches = 0

    def __iter__(self) -> Iterator[Batch]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        # A DataLoader takes batches from its workers in turn, always starting with worker 0. After skipping
        # k batches the next one belongs to the reader in role k % workers, so worker 0 takes that role.
        role = (worker + self.skip_batches) % workers
        slot, slots = self.rank * workers + role, self.world_size * workers
        to_skip = max(0, (self.skip_batches - role + workers - 1) // workers)
        for epoch in count() if self.repeat else [0]:
            samples = self._samples(epoch, slot, slots)
            shuffle_seed = f"{self.seed}/{epoch}/{slot}" if self.shuffle else None
            batches = bucket_batches(
                samples, self.batch_seconds, max_batch_size=self.max_batch_size, shuffle_seed=shuffle_seed
            )
            for index, batch in enumerate(batches):
                if to_skip:
                    to_skip -= 1
                    continue
                decoded = [sample for sample in map(_decode, batch) if sample is not None]
                if not decoded:
                    continue
                if self.corrupt is not None:
                    rng = np.random.default_rng([self.seed, epoch, slot, index])
                    corrupted = self.corrupt([sample["audio"] for sample in decoded], rng)
                    decoded = [
                        {**sample, "audio": audio} for sample, audio in zip(decoded, corrupted, strict=True)
                    ]
                yield collate(decoded, self.featurize, self.keep_audio)

    def _samples(self, epoch: int, slot: int, slots: int) -> Iterator[dict]:
        """This reader's share of the samples for one epoch, audio still encoded."""
        urls = list(self.urls)
        if self.shuffle:
            random.Random(f"{self.seed}/{epoch}").shuffle(urls)  # the same order in every reader
        by_shard = len(urls) >= slots
        stream = wds.WebDataset(
            urls[slot::slots] if by_shard else urls,
            shardshuffle=False,
            nodesplitter=None,
            workersplitter=None,
            empty_check=False,
            handler=_warn_and_continue,
        )
        mine = (raw for index, raw in enumerate(stream) if by_shard or index % slots == slot)
        if self.shuffle:
            mine = shuffle_buffer(mine, self.shuffle_buffer, seed=f"{self.seed}/{epoch}/{slot}/samples")
        for raw in mine:
            try:
                sample = {
                    **json.loads(raw["json"]),
                    "flac": raw["flac"],
                    "source": f"{raw['__url__']}:{raw['__key__']}",
                }
                if FEATURES_MEMBER in raw:
                    sample["stored_features"] = raw[FEATURES_MEMBER]
                yield sample
            except (KeyError, ValueError) as error:
                log.warning("skipping malformed sample %s: %s", raw.get("__key__"), error)


def _decode(sample: dict) -> dict | None:
    decoded = dict(sample)
    try:
        decoded["audio"], _ = decode_audio(sample["flac"], sample["source"])
        if "stored_features" in sample:
            decoded["features"] = decode_features(decoded.pop("stored_features"), sample["source"])
    except SpeechError as error:  # an AudioError too
        log.warning("skipping sample: %s", error)
        return None
    return decoded


def shard_loader(stream: BatchStream, num_workers: int = 0) -> DataLoader:
    """A DataLoader that runs decoding, features and bucketing in ``num_workers`` processes.

    It gets its own generator: a DataLoader otherwise draws its worker seed from the global RNG each time it
    starts iterating, which would shift the training RNG (dropout, SpecAugment) of a resumed run.
    """
    return DataLoader(
        stream,
        batch_size=None,
        num_workers=num_workers,
        prefetch_factor=4 if num_workers else None,
        generator=torch.Generator().manual_seed(stream.seed),
    )
