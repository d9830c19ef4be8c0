"""From shards to padded feature batches: the one data path that training and evaluation share."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial

import webdataset as wds
from torch import Tensor

from speech.data.batching import bucket_batches, collate
from speech.data.shards import read_shards


def shard_loader(
    source: str | os.PathLike | list[str],
    featurize: Callable[[Tensor], Tensor],
    batch_seconds: float,
    shuffle: int = 0,
    seed: int = 0,
    num_workers: int = 0,
    resampled: bool = False,
    epoch_batches: int | None = None,
) -> wds.WebLoader:
    """Stream :class:`~speech.data.batching.Batch` objects from shards.

    Decoding, feature extraction and bucketing run in ``num_workers`` DataLoader processes. With
    ``resampled=True`` and ``epoch_batches`` every rank yields exactly that many batches per epoch, so
    distributed ranks never wait on each other at the end of an epoch.
    """
    pipeline = (
        read_shards(source, shuffle=shuffle, resampled=resampled, seed=seed)
        .compose(partial(bucket_batches, batch_seconds=batch_seconds, shuffle_seed=seed if shuffle else None))
        .map(partial(collate, featurize=featurize))
    )
    loader = wds.WebLoader(
        pipeline, batch_size=None, num_workers=num_workers, persistent_workers=num_workers > 0
    )
    return loader.with_epoch(epoch_batches) if epoch_batches else loader
