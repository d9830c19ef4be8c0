from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from speech.audio import read_audio
from speech.data.manifest import read_manifest

RECIPE = Path(__file__).resolve().parents[2] / "pipelines" / "fsdd" / "prepare.py"


def test_fsdd_splits_by_speaker_and_builds_connected_digits(tmp_path: Path, fsdd_dir: Path) -> None:
    command = [
        sys.executable,
        str(RECIPE),
        "--fsdd",
        str(fsdd_dir.parent),
        "--out",
        str(tmp_path),
        "--test-speaker",
        "jackson",
        "--connected-train",
        "8",
        "--connected-test",
        "4",
    ]
    subprocess.run(command, check=True, capture_output=True)
    splits = {
        name: list(read_manifest(tmp_path / f"{name}.jsonl"))
        for name in (
            "isolated_train",
            "isolated_valid",
            "isolated_test",
            "connected_train",
            "connected_test",
            "train",
        )
    }
    assert [len(splits[n]) for n in ("isolated_train", "isolated_valid", "isolated_test")] == [1350, 150, 500]
    assert (
        {u.speaker for u in splits["isolated_test"]}
        == {u.speaker for u in splits["connected_test"]}
        == {"jackson"}
    )
    train_speakers = {
        u.speaker for n in ("isolated_train", "isolated_valid", "connected_train") for u in splits[n]
    }
    assert "jackson" not in train_speakers and len(train_speakers) == 3
    assert len(splits["train"]) == 1350 + 8
    first = splits["isolated_test"][0]
    assert Path(first.audio).name.startswith(("0_", "1_", "2_")) and first.text in ("zero", "one", "two")

    for utterance in splits["connected_test"]:
        words = utterance.text.split()
        assert 2 <= len(words) <= 7
        audio, rate = read_audio(utterance.audio)
        assert rate == 16000 and len(audio) / rate == utterance.duration
        # Each digit is a separate burst of speech: count the loud stretches between silent pauses.
        frames = np.abs(audio[: len(audio) // 160 * 160]).reshape(-1, 160).max(axis=1) > 0.02
        bursts = np.count_nonzero(frames[1:] & ~frames[:-1])
        assert len(words) <= bursts <= 3 * len(words)

    again = tmp_path / "again"
    subprocess.run([*command[:5], str(again), *command[6:]], check=True, capture_output=True)
    assert (again / "connected_test.jsonl").read_text().replace(str(again), "") == (
        tmp_path / "connected_test.jsonl"
    ).read_text().replace(str(tmp_path), "")
