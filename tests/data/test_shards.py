from __future__ import annotations

import dataclasses
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from speech.audio import audio_info, read_audio
from speech.data.corruption import WaveformCorruption
from speech.data.loader import BatchStream, shard_loader
from speech.data.manifest import Utterance
from speech.data.shards import (
    StoredFeatures,
    check_stored_features,
    decode_features,
    iterate_shards,
    shard_urls,
    write_shards,
)
from speech.errors import SpeechError
from speech.features import FeatureConfig, FeatureExtractor, SpecAugmentConfig

TRANSCRIPTS = {
    "sense_and_sensibility_01_austen_64kb-0870": "and mister john dashwood had then leisure to consider",
    "sense_and_sensibility_01_austen_64kb-0880": "he was not an ill disposed young man",
    "sense_and_sensibility_01_austen_64kb-0890": "unless to be rather cold hearted and rather selfish",
    "sense_and_sensibility_01_austen_64kb-0920": "had he married a more a amiable woman",
    "sense_and_sensibility_01_austen_64kb-0930": "he might even have been made amiable himself",
}


@pytest.fixture()
def real_utterances(librivox_dir: Path) -> list[Utterance]:
    return [
        Utterance(
            f"librivox.{name}",
            str(librivox_dir / f"{name}.wav"),
            audio_info(librivox_dir / f"{name}.wav").duration,
            text,
            "austen-reader",
        )
        for name, text in TRANSCRIPTS.items()
    ]


def test_round_trip_keeps_audio_and_text_identical(tmp_path: Path, real_utterances: list[Utterance]) -> None:
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEjunk")
    utterances = [*real_utterances, Utterance("broken", str(broken), 1.0, "lost")]
    report = write_shards(utterances, tmp_path / "shards", max_bytes=150_000)
    assert report.samples == 5 and len(report.shards) > 1
    assert report.skipped == [("broken", f"{broken}: Error in WAV file. No 'data' chunk marker.")]
    index = json.loads((tmp_path / "shards" / "shards.json").read_text())
    assert index["samples"] == 5 and [s["name"] for s in index["shards"]] == [
        Path(u).name for u in shard_urls(tmp_path / "shards")
    ]
    with tarfile.open(shard_urls(tmp_path / "shards")[0]) as tar:
        assert all("." not in name.split(".", 1)[0] for name in tar.getnames())  # dotted ids made tar-safe
    decoded = list(iterate_shards(tmp_path / "shards"))
    assert [sample["id"] for sample in decoded] == [u.id for u in real_utterances]
    for sample, utterance in zip(decoded, real_utterances, strict=True):
        original, _ = read_audio(utterance.audio)
        assert sample["text"] == utterance.text and sample["speaker"] == utterance.speaker
        assert sample["sample_rate"] == 16000 and np.array_equal(sample["audio"], original)


def test_resamples_once_when_writing(tmp_path: Path, speech_wav: Path) -> None:
    utterance = Utterance("fox", str(speech_wav), audio_info(speech_wav).duration, "the quick brown fox")
    write_shards([utterance], tmp_path / "shards", sample_rate=8000)
    (sample,) = iterate_shards(tmp_path / "shards")
    expected, _ = read_audio(speech_wav, 8000)
    assert sample["sample_rate"] == 8000
    assert np.allclose(sample["audio"], expected, atol=1 / 32768 + 1e-6)  # only 16-bit quantisation differs


def test_segments_are_cut_from_recordings(tmp_path: Path, real_utterances: list[Utterance]) -> None:
    source = real_utterances[0]
    segment = Utterance("seg", source.audio, 1.5, "part", offset=2.0)
    write_shards([segment], tmp_path / "shards")
    (sample,) = iterate_shards(tmp_path / "shards")
    full, _ = read_audio(source.audio)
    assert np.array_equal(sample["audio"], full[32000:56000]) and sample["duration"] == 1.5


def test_streaming_batches_cover_every_utterance_once(
    tmp_path: Path, real_utterances: list[Utterance]
) -> None:
    write_shards(real_utterances, tmp_path / "shards", max_samples=2)
    config = FeatureConfig()
    stream = BatchStream(tmp_path / "shards", FeatureExtractor(config), batch_seconds=12.0)
    batches = list(shard_loader(stream))
    ids = [i for batch in batches for i in batch.ids]
    assert sorted(ids) == sorted(u.id for u in real_utterances)
    durations = {u.id: u.duration for u in real_utterances}
    for batch in batches:
        assert batch.features.shape[0] == len(batch.ids) and batch.features.shape[2] == config.n_mels
        assert batch.lengths.max() == batch.features.shape[1]
        longest = max(durations[i] for i in batch.ids)
        assert len(batch.ids) == 1 or longest * len(batch.ids) <= 12.0
        for row, utterance_id in enumerate(batch.ids):
            assert batch.lengths[row] == config.num_frames(round(durations[utterance_id] * 16000))


def _ids(stream: BatchStream, batches: int, workers: int = 0) -> list[list[str]]:
    iterator = iter(shard_loader(stream, num_workers=workers))
    return [next(iterator).ids for _ in range(batches)]


@pytest.mark.parametrize("max_samples", [1, 3])  # more shards than readers, and fewer
def test_ranks_and_workers_read_disjoint_shares(
    tmp_path: Path, real_utterances: list[Utterance], max_samples: int
) -> None:
    write_shards(real_utterances, tmp_path / "shards", max_samples=max_samples)
    for workers in (0, 2):
        shares = []
        for rank in range(2):
            stream = BatchStream(tmp_path / "shards", FeatureExtractor(), 1.0, rank=rank, world_size=2)
            shares.append([i for batch in shard_loader(stream, num_workers=workers) for i in batch.ids])
        assert sorted(shares[0] + shares[1]) == sorted(
            u.id for u in real_utterances
        )  # each once, in one rank


def test_training_stream_repeats_reshuffles_and_resumes(
    tmp_path: Path, real_utterances: list[Utterance]
) -> None:
    write_shards(real_utterances, tmp_path / "shards", max_samples=1)

    def stream() -> BatchStream:
        return BatchStream(tmp_path / "shards", FeatureExtractor(), 1.0, shuffle=True, repeat=True, seed=7)

    first = _ids(stream(), 15)  # three epochs of five single-utterance batches
    epochs = [sorted(i for batch in first[k : k + 5] for i in batch) for k in (0, 5, 10)]
    assert epochs[0] == epochs[1] == epochs[2] == sorted(u.id for u in real_utterances)
    assert first[:5] != first[5:10] or first[5:10] != first[10:]  # each epoch reshuffled
    assert _ids(stream(), 15) == first  # seeded
    resumed = stream()
    resumed.skip_batches = 7
    assert _ids(resumed, 8) == first[7:]
    resumed_workers = stream()
    resumed_workers.skip_batches = 7
    assert _ids(resumed_workers, 8, workers=2) == _ids(stream(), 15, workers=2)[7:]


def test_corrupted_stream_is_seeded_and_resumes_with_the_same_corruption(
    tmp_path: Path, real_utterances: list[Utterance]
) -> None:
    write_shards(real_utterances, tmp_path / "shards", max_samples=1)

    def features(corrupt: WaveformCorruption | None, skip: int = 0, batches: int = 8) -> list[np.ndarray]:
        stream = BatchStream(
            tmp_path / "shards", FeatureExtractor(), 1.0, shuffle=True, repeat=True, seed=7, corrupt=corrupt
        )
        stream.skip_batches = skip
        iterator = iter(shard_loader(stream))
        return [next(iterator).features.numpy() for _ in range(batches - skip)]

    corrupt = WaveformCorruption(
        SpecAugmentConfig(noise_prob=1.0, noise_snr_min=5.0, noise_snr_max=20.0, tilt_prob=0.5)
    )
    clean, corrupted = features(None), features(corrupt)
    assert all(not np.allclose(a, b, atol=0.1) for a, b in zip(clean, corrupted, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(features(corrupt), corrupted, strict=True))  # seeded
    assert all(np.array_equal(a, b) for a, b in zip(features(corrupt, skip=5), corrupted[5:], strict=True))


def _shifted(shift: float) -> StoredFeatures:
    """Stored frames that differ from the computed ones by ``shift``: which of the two training got shows."""
    extractor = FeatureExtractor()
    return StoredFeatures(
        f"computed + {shift}", FeatureConfig(), lambda _, samples: extractor(samples).numpy() + shift
    )


def test_stored_features_replace_the_computed_ones(tmp_path: Path, real_utterances: list[Utterance]) -> None:
    write_shards(real_utterances, tmp_path / "shards", max_samples=2, features=_shifted(1.0))
    extractor = FeatureExtractor()
    computed = {}
    for sample in iterate_shards(tmp_path / "shards"):
        computed[sample["id"]] = extractor(sample["audio"]).numpy()
        assert sample["features"].dtype == np.float32
        assert np.allclose(sample["features"], computed[sample["id"]] + 1.0, atol=0.02)  # stored as float16
    batches = list(shard_loader(BatchStream(tmp_path / "shards", extractor, batch_seconds=12.0)))
    assert sorted(i for batch in batches for i in batch.ids) == sorted(computed)
    for batch in batches:
        for row, utterance_id in enumerate(batch.ids):
            frames = computed[utterance_id]
            assert batch.lengths[row] == len(frames)
            assert np.allclose(batch.features[row, : len(frames)].numpy(), frames + 1.0, atol=0.02)


def test_rewriting_with_other_stored_features_starts_again(
    tmp_path: Path, real_utterances: list[Utterance]
) -> None:
    write_shards(real_utterances, tmp_path / "shards", max_samples=2, features=_shifted(1.0))
    write_shards(real_utterances, tmp_path / "shards", max_samples=2, features=_shifted(-2.0), resume=True)
    extractor = FeatureExtractor()
    for sample in iterate_shards(tmp_path / "shards"):
        assert np.allclose(sample["features"], extractor(sample["audio"]).numpy() - 2.0, atol=0.02)


def test_the_same_stored_features_are_kept_on_resume_and_overflow_is_skipped(
    tmp_path: Path, real_utterances: list[Utterance]
) -> None:
    made: list[str] = []

    def frames(utterance: Utterance, samples: np.ndarray) -> np.ndarray:
        made.append(utterance.id)
        return np.full((10, 80), 1e6 if utterance is real_utterances[2] else 0.5)  # 1e6 overflows float16

    stored = StoredFeatures("test frames", FeatureConfig(), frames)
    report = write_shards(real_utterances, tmp_path / "shards", max_samples=2, features=stored)
    assert report.skipped == [(real_utterances[2].id, "stored features not finite (or beyond float16)")]
    assert report.samples == 4 and len(made) == 5
    write_shards(real_utterances, tmp_path / "shards", max_samples=2, features=stored, resume=True)
    assert len(made) == 6  # only the skipped one is made again: the finished shards are kept


def test_training_refuses_stored_features_of_other_settings_or_with_augmentation(
    tmp_path: Path, real_utterances: list[Utterance]
) -> None:
    write_shards(real_utterances[:1], tmp_path / "shards", features=_shifted(0.0))
    check_stored_features(tmp_path / "shards", FeatureConfig(), augmented=False)  # the same settings
    with pytest.raises(SpeechError, match=r"shards.json: its stored frames were made with hop_length=160, "
                       r"but this config's features have hop_length=200; make the shards again"):  # fmt: skip
        check_stored_features(tmp_path / "shards", FeatureConfig(hop_length=200), augmented=False)
    with pytest.raises(SpeechError, match="shards.json: these shards store their frames, which waveform"):
        check_stored_features(tmp_path / "shards" / "shards.json", FeatureConfig(), augmented=True)
    write_shards(real_utterances[:1], tmp_path / "plain")
    check_stored_features(tmp_path / "plain", FeatureConfig(hop_length=200), augmented=True)  # computed


def _npy_bytes(array: np.ndarray, pickled: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=pickled)
    return buffer.getvalue()


def _npz_bytes() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, frames=np.zeros((3, 80)))
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"not an array", "not a NumPy .npy array file"),
        (b"", "not a NumPy .npy array file"),
        (_npz_bytes(), "not a NumPy .npy array file \\(an .npz archive\\)"),
        (_npy_bytes(np.array([{"a": 1}], dtype=object), pickled=True), "not a NumPy .npy array file"),
        (_npy_bytes(np.full((3, 2), np.nan)), "log-mel frames must be finite floating-point numbers"),
        (_npy_bytes(np.array([["a", "b"]])), "log-mel frames must be finite floating-point numbers"),
        (_npy_bytes(np.zeros(4)), "expected log-mel frames of shape \\(frames, mels\\), got \\(4,\\)"),
        (
            _npy_bytes(np.zeros((0, 80))),
            "expected log-mel frames of shape \\(frames, mels\\), got \\(0, 80\\)",
        ),
    ],
)
def test_bad_stored_features_are_one_line_naming_the_sample(data: bytes, problem: str) -> None:
    with pytest.raises(SpeechError, match=f"^shard-000000.tar:key \\(stored features\\): {problem}"):
        decode_features(data, "shard-000000.tar:key")


def test_missing_index_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SpeechError, match="no shards.json"):
        shard_urls(tmp_path)


def test_cli_shards_several_manifests_together(tmp_path: Path, real_utterances: list[Utterance]) -> None:
    """`speech shard A B`: one set of shards, A's utterances then B's, each path resolved against its own
    manifest's folder (recipes keep corpora in separate folders with relative paths)."""
    from speech.cli import main

    for part, utterances in (("a", real_utterances[:2]), ("b", real_utterances[2:])):
        (tmp_path / part).mkdir()
        lines = []
        for utterance in utterances:
            (tmp_path / part / Path(utterance.audio).name).write_bytes(Path(utterance.audio).read_bytes())
            lines.append(dataclasses.replace(utterance, audio=Path(utterance.audio).name).to_json())
        (tmp_path / part / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    manifests = [str(tmp_path / part / "manifest.jsonl") for part in ("a", "b")]
    assert main(["shard", *manifests, "-o", str(tmp_path / "shards")]) == 0
    decoded = list(iterate_shards(tmp_path / "shards"))
    assert [sample["id"] for sample in decoded] == [u.id for u in real_utterances]
    assert np.array_equal(decoded[3]["audio"], read_audio(real_utterances[3].audio)[0])


def test_nothing_to_shard_writes_no_index_and_training_on_an_empty_index_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from speech.cli import main

    (tmp_path / "empty.jsonl").write_text("\n")
    assert main(["shard", str(tmp_path / "empty.jsonl"), "-o", str(tmp_path / "a")]) == 1
    assert f"{tmp_path / 'empty.jsonl'}: no utterances, no shards written" in capsys.readouterr().err
    (tmp_path / "bad.jsonl").write_text('{"id": "x", "audio": "gone.wav", "duration": 1, "text": "t"}\n')
    assert main(["shard", str(tmp_path / "bad.jsonl"), "-o", str(tmp_path / "b")]) == 1
    assert "no utterance could be read, no shards written" in capsys.readouterr().err
    assert not (tmp_path / "a" / "shards.json").exists() and not (tmp_path / "b" / "shards.json").exists()

    (tmp_path / "taken").write_text("mine\n")
    assert main(["shard", str(tmp_path / "bad.jsonl"), "-o", str(tmp_path / "taken")]) == 1
    err = capsys.readouterr().err
    assert "taken: -o must be a folder" in err and "Traceback" not in err
    (tmp_path / "wrong.jsonl").write_text('{"id": "x", "audio": 123, "duration": 1, "text": "t"}\n')
    assert main(["shard", str(tmp_path / "wrong.jsonl"), "-o", str(tmp_path / "c")]) == 1
    assert "wrong.jsonl:1: 'audio' must be a string, got int" in capsys.readouterr().err

    (tmp_path / "old").mkdir()  # an empty index, as earlier versions wrote one
    (tmp_path / "old" / "shards.json").write_text('{"sample_rate": 16000, "samples": 0, "shards": []}')
    with pytest.raises(SpeechError, match="shards.json: lists no shards"):
        shard_urls(tmp_path / "old")
    (tmp_path / "old" / "shards.json").write_text('{"shards": [{"nam')
    with pytest.raises(SpeechError, match="shards.json: not an index `speech shard` writes"):
        shard_urls(tmp_path / "old")
    conf = Path(__file__).resolve().parents[2] / "conf" / "asr" / "tiny.yaml"
    (tmp_path / "old" / "shards.json").write_text('{"sample_rate": 16000, "samples": 0, "shards": []}')
    status = main(["train", str(conf), f"data.train={tmp_path / 'old'}", f"train.out_dir={tmp_path / 'run'}"])
    err = capsys.readouterr().err
    assert status == 1 and "lists no shards" in err and "Traceback" not in err


def test_a_stopped_run_resumes_and_writes_what_an_uninterrupted_run_does(
    tmp_path: Path, real_utterances: list[Utterance], monkeypatch: pytest.MonkeyPatch
) -> None:
    import speech.data.shards as shards

    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    write_shards(real_utterances, whole, max_samples=2)  # shards of 2, 2 and 1 utterances
    write_shards(real_utterances, stopped, max_samples=2)
    (stopped / "shard-000002.tar").unlink()  # killed while writing the last shard: no index yet,
    (stopped / "shards.json").unlink()  # and the last shard's temporary left behind
    (stopped / ".shard-000002.tar.x1y2.tmp").write_bytes(b"half a shard")

    reads = []
    real_read = shards.read_audio
    monkeypatch.setattr(
        shards, "read_audio", lambda path, *a, **k: reads.append(path) or real_read(path, *a, **k)
    )
    report = write_shards(real_utterances, stopped, max_samples=2, resume=True)
    assert reads == [real_utterances[4].audio]  # only what the finished shards did not hold
    assert report.samples == 5 and len(report.shards) == 3
    assert sorted(path.name for path in stopped.iterdir()) == sorted(path.name for path in whole.iterdir())
    for path in whole.iterdir():
        assert (stopped / path.name).read_bytes() == path.read_bytes(), path.name

    reads.clear()  # another job in the same folder (other settings, other utterances) starts afresh
    write_shards(real_utterances, stopped, max_samples=3, resume=True)
    assert len(reads) == 5
    reads.clear()
    write_shards(real_utterances[:4], stopped, max_samples=3, resume=True)
    assert len(reads) == 4


def test_cli_shard_resumes_unless_overwrite_and_shows_no_bar_when_piped(
    tmp_path: Path,
    real_utterances: list[Utterance],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    import speech.data.shards as shards
    from speech.cli import main

    (tmp_path / "m.jsonl").write_text("".join(u.to_json() + "\n" for u in real_utterances))
    command = ["shard", str(tmp_path / "m.jsonl"), "-o", str(tmp_path / "s"), "--max-samples", "2"]
    assert main(command) == 0
    reads = []
    real_read = shards.read_audio
    monkeypatch.setattr(
        shards, "read_audio", lambda path, *a, **k: reads.append(path) or real_read(path, *a, **k)
    )
    assert main(command) == 0 and reads == []  # all done: nothing read again
    assert [sample["id"] for sample in iterate_shards(tmp_path / "s")] == [u.id for u in real_utterances]
    assert main([*command, "--overwrite"]) == 0 and len(reads) == 5
    assert "%|" not in capsys.readouterr().err  # standard error is not a terminal here: no progress bar
