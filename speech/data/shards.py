"""WebDataset shards: writing a manifest into size-capped tar files, and streaming them back.

A sample is two tar members sharing a key: ``<key>.flac`` (16-bit FLAC at the corpus rate) and ``<key>.json``
(id, text, speaker, duration, sample_rate, and phonemes and durations when the manifest has them), and a third,
``<key>.features.npy``, when the shards store frames that training uses instead of computing them from the audio
(:class:`StoredFeatures`: a vocoder trained on what a voice predicts). Audio is resampled once, when shards are
written, not at every epoch. Shards are written to a temporary name and renamed when complete, and an index (``shards.json``) lists
them with their sample counts and hours, so a trainer knows an epoch's size without reading them.

A stopped run resumes: ``shards.job.json`` records what the job is (the utterances and the settings), and a
rerun of the same job keeps the shards already finished, reads none of their audio again and goes on from the
next shard, so the shards are those an uninterrupted run writes.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import tarfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import webdataset as wds

from speech.audio import AudioError, atomic_output, decode_audio, encode_audio, read_audio
from speech.data.manifest import Utterance
from speech.errors import SpeechError, shown
from speech.frames import check_frames, load_npy
from speech.logmel import FeatureConfig

log = logging.getLogger(__name__)

INDEX_NAME = "shards.json"
JOB_NAME = "shards.job.json"
SHARD_PATTERN = "shard-{:06d}.tar"
FEATURES_MEMBER = "features.npy"


@dataclass(frozen=True)
class StoredFeatures:
    """Frames (frames, dims) per utterance, made from it and its audio when shards are written, that training
    reads instead of the ones its feature extractor computes from the audio. The vocoder recipe stores a voice's
    teacher-forced predictions this way, so the vocoder learns to turn what the voice will give it into the
    recording. ``source`` says what makes them (it is part of the job, so a rerun with another starts again);
    ``features`` are the settings they follow, which training checks against its own (see
    :func:`check_stored_features`): frames at another hop would silently pair with the wrong samples."""

    source: str
    features: FeatureConfig
    frames: Callable[[Utterance, np.ndarray], np.ndarray]

    def record(self) -> dict:
        return {"source": self.source, "features": self.features.to_dict()}


@dataclass
class ShardReport:
    shards: list[dict] = field(default_factory=list)  # {"name", "samples", "seconds"}
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (utterance id, reason)

    @property
    def samples(self) -> int:
        return sum(shard["samples"] for shard in self.shards)

    @property
    def seconds(self) -> float:
        return sum(shard["seconds"] for shard in self.shards)


def shard_key(utterance_id: str) -> str:
    """A tar-safe key: WebDataset splits member names at the first dot, so dots and slashes must go."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", utterance_id)


def job_description(
    utterances: list[Utterance],
    sample_rate: int,
    max_bytes: int,
    max_samples: int,
    stored_features: dict | None = None,
) -> dict:
    """What makes two runs the same job: the settings, what stores features, and a digest of the utterances,
    in order."""
    digest = hashlib.sha256()
    for utterance in utterances:
        digest.update(utterance.to_json().encode() + b"\n")
    return {
        "sample_rate": sample_rate,
        "max_bytes": max_bytes,
        "max_samples": max_samples,
        "utterances": len(utterances),
        "sha256": digest.hexdigest(),
        **({"stored_features": stored_features} if stored_features else {}),
    }


def finished_shards(out_dir: Path, job: dict) -> list[tuple[dict, set[str]]]:
    """The shards a stopped run of ``job`` finished in ``out_dir``, in order, each as its index entry and its
    sample keys; none when the folder holds another job's shards (or none). Temporary files a killed run left
    are removed."""
    for stale in out_dir.glob(".shard-*.tar.*.tmp"):
        stale.unlink(missing_ok=True)
    try:
        if json.loads((out_dir / JOB_NAME).read_text()) != job:
            return []
    except (OSError, ValueError):
        return []
    finished = []
    while (path := out_dir / SHARD_PATTERN.format(len(finished))).is_file():
        try:
            with tarfile.open(path) as tar:
                metas = {
                    member.name.rsplit(".", 1)[0]: json.load(tar.extractfile(member))
                    for member in tar
                    if member.name.endswith(".json")
                }
        except (OSError, ValueError, tarfile.TarError):
            break  # not one this job finished: written again
        seconds = sum(meta["duration"] for meta in metas.values())
        finished.append(({"name": path.name, "samples": len(metas), "seconds": seconds}, set(metas)))
    return finished


def write_shards(
    utterances: Iterable[Utterance],
    out_dir: str | os.PathLike,
    sample_rate: int = 16000,
    max_bytes: int = 256 * 2**20,
    max_samples: int = 10_000,
    progress: Callable[[Iterable], Iterable] = lambda items: items,
    resume: bool = False,
    features: StoredFeatures | None = None,
) -> ShardReport:
    """Write ``utterances`` as shards in ``out_dir``; unreadable audio is skipped and reported, not fatal.
    With ``features``, each sample also stores its frames (float16), which training then uses as they are.
    When nothing could be written, no index is either (``report.samples`` is 0). With ``resume``, the shards
    a stopped run of the same job finished are kept (see the module docstring); the report counts them."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    utterances = list(utterances)
    job = job_description(
        utterances, sample_rate, max_bytes, max_samples, features.record() if features else None
    )
    finished = finished_shards(out_dir, job) if resume else []
    if finished:
        log.info("resuming: %d finished shards kept", len(finished))
    with atomic_output(out_dir / JOB_NAME, "w") as stream:
        json.dump(job, stream, indent=1)
    report = ShardReport(shards=[shard for shard, _ in finished])
    resumed = {key for _, keys in finished for key in keys}  # each taken once: a later duplicate is reported
    seen_keys: set[str] = set(resumed)
    with ExitStack() as shard_scope:
        writer, current = None, None
        for utterance in progress(utterances):
            key = shard_key(utterance.id)
            if key in resumed:
                resumed.discard(key)
                continue
            if key in seen_keys:
                report.skipped.append((utterance.id, f"duplicate id (as shard key {key!r})"))
                continue
            try:
                samples, _ = read_audio(
                    utterance.audio,
                    sample_rate,
                    offset=utterance.offset,
                    duration=utterance.duration if utterance.offset else None,
                )
            except AudioError as error:
                report.skipped.append((utterance.id, str(error)))
                continue
            seen_keys.add(key)
            members = {"flac": encode_audio(samples, sample_rate, "FLAC")}
            if features is not None:
                with np.errstate(over="ignore"):  # an overflow is reported below, as the item's problem
                    frames = features.frames(utterance, samples).astype(np.float16)
                if not np.isfinite(frames).all():
                    report.skipped.append((utterance.id, "stored features not finite (or beyond float16)"))
                    continue
                members[FEATURES_MEMBER] = _npy(frames)
            size = sum(len(member) for member in members.values())
            meta = {
                "id": utterance.id,
                "text": utterance.text,
                "speaker": utterance.speaker,
                "duration": round(len(samples) / sample_rate, 4),
                "sample_rate": sample_rate,
            }
            if utterance.phonemes is not None:
                meta.update(phonemes=list(utterance.phonemes), durations=list(utterance.durations or ()))
                if utterance.frame_shift is not None:
                    meta["frame_shift"] = utterance.frame_shift
            if current and (current["samples"] >= max_samples or current["bytes"] + size > max_bytes):
                shard_scope.close()
                writer = None
            if writer is None:
                current = {
                    "name": SHARD_PATTERN.format(len(report.shards)),
                    "samples": 0,
                    "seconds": 0.0,
                    "bytes": 0,
                }
                report.shards.append(current)
                stream = shard_scope.enter_context(atomic_output(out_dir / current["name"]))
                writer = wds.TarWriter(stream, mtime=0)
                shard_scope.callback(writer.close)
            writer.write({"__key__": key, **members, "json": json.dumps(meta).encode()})
            current["samples"] += 1
            current["seconds"] += meta["duration"]
            current["bytes"] += size
    for shard in report.shards:
        shard.pop("bytes", None)
        shard["seconds"] = round(shard["seconds"], 3)
    if not report.shards:  # an index of nothing would only fail later, in training, with less to go on
        return report
    index = {
        "sample_rate": sample_rate,
        "samples": report.samples,
        "seconds": round(report.seconds, 3),
        "shards": report.shards,
        **({"stored_features": features.record()} if features else {}),
    }
    with atomic_output(out_dir / INDEX_NAME, "w") as stream:
        json.dump(index, stream, indent=1)
    return report


def check_stored_features(source: str | os.PathLike, features: FeatureConfig, augmented: bool) -> None:
    """Shards that store their frames (their index says so) can train only a model with the same feature
    settings, and without waveform augmentation, which cannot change stored frames: a SpeechError naming the
    index otherwise. Shards without an index (a brace pattern) are not checked."""
    index_path = _index_path(source)
    if index_path.name != INDEX_NAME or not index_path.is_file():
        return
    try:
        stored = json.loads(index_path.read_text()).get("stored_features")
    except (OSError, ValueError, AttributeError):
        return  # shard_urls reports an unreadable index
    if not stored:
        return
    expected = features.to_dict()
    different = sorted(k for k in expected if stored["features"].get(k) != expected[k])
    if different:
        made = ", ".join(f"{k}={stored['features'].get(k)}" for k in different)
        wanted = ", ".join(f"{k}={expected[k]}" for k in different)
        raise SpeechError(
            f"{shown(index_path)}: its stored frames were made with {made}, but this config's features have "
            f"{wanted}; make the shards again with these features"
        )
    if augmented:
        raise SpeechError(
            f"{shown(index_path)}: these shards store their frames, which waveform augmentation cannot "
            "change; leave augment's *_prob settings at 0"
        )


def _index_path(source: str | os.PathLike) -> Path:
    """The index of a shard folder, or ``source`` itself (an index file, or a brace pattern)."""
    path = Path(source)
    return path / INDEX_NAME if path.is_dir() else path


def shard_urls(source: str | os.PathLike) -> list[str]:
    """Shard paths from a shard folder (via its index), an index file, or a brace pattern."""
    index_path = _index_path(source)
    if index_path.name == INDEX_NAME:
        if not index_path.is_file():
            raise SpeechError(f"{source}: no {INDEX_NAME} here (write shards with `speech shard` first)")
        try:
            index = json.loads(index_path.read_text())
            urls = [str(index_path.parent / shard["name"]) for shard in index["shards"]]
        except (OSError, ValueError, KeyError, TypeError) as error:
            problem = "cannot read it" if isinstance(error, OSError) else "not an index `speech shard` writes"
            raise SpeechError(f"{shown(index_path)}: {problem}") from None
        if not urls:
            raise SpeechError(
                f"{shown(index_path)}: lists no shards (no utterance could be read when written)"
            )
        return urls
    return list(wds.shardlists.expand_urls(str(source)))


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def decode_features(data: bytes, where: str) -> np.ndarray:
    """A stored ``features.npy`` member -> float32 (frames, dims); anything else is a SpeechError naming it."""
    return check_frames(load_npy(data, f"{where} (stored features)"), f"{where} (stored features)")


def decode_sample(sample: dict) -> dict:
    """A raw tar sample -> {"id", "text", "speaker", "duration", "audio" (float32 array), "sample_rate"}, and
    "features" (float32 (frames, dims)) when the shards store them."""
    meta = json.loads(sample["json"])
    where = f"{sample.get('__url__', '?')}:{sample['__key__']}"
    audio, rate = decode_audio(sample["flac"], where)
    if FEATURES_MEMBER in sample:
        meta["features"] = decode_features(sample[FEATURES_MEMBER], where)
    return {**meta, "audio": audio, "sample_rate": rate}


def iterate_shards(source: str | os.PathLike) -> Iterator[dict]:
    """Every decoded sample in file order, in this process (no rank or worker split): for tools and tests."""
    dataset = wds.WebDataset(
        shard_urls(source), shardshuffle=False, nodesplitter=None, workersplitter=None, empty_check=False
    )
    yield from dataset.map(decode_sample)
