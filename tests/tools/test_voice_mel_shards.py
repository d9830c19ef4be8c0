"""tools/voice_mel_shards.py: shards whose stored frames are the shipped voice's predictions for real
recordings, aligned to them frame for frame."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from speech.assets import TTS_VOICE
from speech.audio import audio_info
from speech.data.manifest import Utterance, write_manifest
from speech.data.shards import iterate_shards
from speech.features import FeatureExtractor
from speech.text.phonemes import Phonemizer, synthesis_tokens

ROOT = Path(__file__).resolve().parents[2]
TEXTS = {
    "sense_and_sensibility_01_austen_64kb-0880": "he was not an ill disposed young man",
    "sense_and_sensibility_01_austen_64kb-0930": "he might even have been made amiable himself",
}


def run_tool(*args: str | Path) -> subprocess.CompletedProcess:
    command = [sys.executable, str(ROOT / "tools" / "voice_mel_shards.py"), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def aligned(librivox_dir: Path) -> list[Utterance]:
    """Real recordings with phonemes and even durations: the tool needs an alignment, not a good one."""
    utterances = []
    for name, text in TEXTS.items():
        path = librivox_dir / f"{name}.wav"
        duration = audio_info(path).duration
        phonemes = synthesis_tokens(Phonemizer().phonemize(text))
        frames = int(duration * 100) + 1
        durations = [frames // len(phonemes)] * len(phonemes)
        utterances.append(
            Utterance(name, str(path), duration, text, "", 0.0, tuple(phonemes), tuple(durations))
        )
    return utterances


@pytest.mark.skipif(not (TTS_VOICE / "config.json").exists(), reason="no shipped voice")
def test_stored_frames_are_the_voices_and_follow_each_recording(tmp_path: Path, librivox_dir: Path) -> None:
    write_manifest(tmp_path / "aligned.jsonl", aligned(librivox_dir))
    done = run_tool(tmp_path / "aligned.jsonl", "--voice", TTS_VOICE, "-o", tmp_path / "shards")
    assert done.returncode == 0, done.stderr
    samples = list(iterate_shards(tmp_path / "shards"))
    assert [s["id"] for s in samples] == list(TEXTS)
    extractor = FeatureExtractor()
    recorded = [extractor(s["audio"]).numpy() for s in samples]
    for sample, own, other in zip(samples, recorded, recorded[::-1], strict=True):
        stored = sample["features"]
        assert stored.shape == own.shape  # one frame per recorded frame
        assert not np.allclose(stored, own, atol=0.1)  # the voice's frames, not the recording's
        frames = min(len(own), len(other))
        assert np.abs(stored - own).mean() < 0.8 * np.abs(stored[:frames] - other[:frames]).mean()


def test_unaligned_manifests_are_one_line(tmp_path: Path, librivox_dir: Path) -> None:
    plain = [Utterance(u.id, u.audio, u.duration, u.text) for u in aligned(librivox_dir)]
    write_manifest(tmp_path / "plain.jsonl", plain)
    done = run_tool(tmp_path / "plain.jsonl", "--voice", TTS_VOICE, "-o", tmp_path / "shards")
    assert done.returncode == 1 and not (tmp_path / "shards").exists()
    assert done.stderr.strip().splitlines() == [
        f"error: {plain[0].id} (and 1 more): no phonemes and durations; give the aligned manifests (speech align)"
    ]
