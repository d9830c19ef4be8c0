"""tools/voice_mel_shards.py: shards whose stored frames are the shipped voice's predictions for real
recordings, aligned to them frame for frame."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from speech.assets import TTS_VOICE
from speech.data.manifest import Utterance, write_manifest
from speech.data.shards import iterate_shards
from speech.features import FeatureExtractor

ROOT = Path(__file__).resolve().parents[2]


def run_tool(*args: str | Path) -> subprocess.CompletedProcess:
    command = [sys.executable, str(ROOT / "tools" / "voice_mel_shards.py"), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(not (TTS_VOICE / "config.json").exists(), reason="no shipped voice")
def test_stored_frames_are_the_voices_and_follow_each_recording(
    tmp_path: Path, aligned_librivox: list[Utterance]
) -> None:
    write_manifest(tmp_path / "aligned.jsonl", aligned_librivox[1:5:3])
    done = run_tool(tmp_path / "aligned.jsonl", "--voice", TTS_VOICE, "-o", tmp_path / "shards")
    assert done.returncode == 0, done.stderr
    samples = list(iterate_shards(tmp_path / "shards"))
    assert [s["id"] for s in samples] == [u.id for u in aligned_librivox[1:5:3]]
    extractor = FeatureExtractor()
    recorded = [extractor(s["audio"]).numpy() for s in samples]
    for sample, own, other in zip(samples, recorded, recorded[::-1], strict=True):
        stored = sample["features"]
        assert stored.shape == own.shape  # one frame per recorded frame
        assert not np.allclose(stored, own, atol=0.1)  # the voice's frames, not the recording's
        frames = min(len(own), len(other))
        assert np.abs(stored - own).mean() < 0.8 * np.abs(stored[:frames] - other[:frames]).mean()


def test_unaligned_manifests_are_one_line(tmp_path: Path, aligned_librivox: list[Utterance]) -> None:
    plain = [Utterance(u.id, u.audio, u.duration, u.text) for u in aligned_librivox[:2]]
    write_manifest(tmp_path / "plain.jsonl", plain)
    done = run_tool(tmp_path / "plain.jsonl", "--voice", TTS_VOICE, "-o", tmp_path / "shards")
    assert done.returncode == 1 and not (tmp_path / "shards").exists()
    assert done.stderr.strip().splitlines() == [
        f"error: {plain[0].id} (and 1 more): no phonemes and durations; give the aligned manifests (speech align)"
    ]


def test_a_phoneme_the_voice_does_not_know_stops_it_before_any_audio(
    tmp_path: Path, aligned_librivox: list[Utterance]
) -> None:
    odd = dataclasses.replace(aligned_librivox[0], phonemes=("Q9",) * len(aligned_librivox[0].phonemes))
    write_manifest(tmp_path / "aligned.jsonl", [aligned_librivox[1], odd])
    done = run_tool(tmp_path / "aligned.jsonl", "--voice", TTS_VOICE, "-o", tmp_path / "shards")
    assert done.returncode == 1 and not (tmp_path / "shards").exists()
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"error: {odd.id}: phonemes the voice does not know (")


@pytest.mark.skipif(not (TTS_VOICE / "config.json").exists(), reason="no shipped voice")
def test_a_resumed_run_stores_what_an_uninterrupted_one_does(
    tmp_path: Path, aligned_librivox: list[Utterance]
) -> None:
    """The pre-net's dropout is drawn per utterance: remaking the second shard alone gives the same frames."""
    write_manifest(tmp_path / "aligned.jsonl", aligned_librivox[:2])
    args = (tmp_path / "aligned.jsonl", "--voice", TTS_VOICE, "-o", tmp_path / "shards", "--max-samples", "1")
    assert run_tool(*args).returncode == 0
    first = (tmp_path / "shards" / "shard-000001.tar").read_bytes()
    (tmp_path / "shards" / "shard-000001.tar").unlink()
    assert run_tool(*args).returncode == 0
    assert (tmp_path / "shards" / "shard-000001.tar").read_bytes() == first
