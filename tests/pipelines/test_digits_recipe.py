from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from speech.audio import read_audio
from speech.data.manifest import read_manifest

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines" / "synthetic"
sys.path.insert(0, str(PIPELINES))
from digits import DIGITS, digit_strings  # noqa: E402
from prepare import is_test_voice  # noqa: E402


def test_digit_strings_are_half_single_digits_and_seeded():
    lines = digit_strings(400, seed=2)
    lengths = [len(line.split()) for line in lines]
    assert 0.4 < lengths.count(1) / 400 < 0.6 and max(lengths) == 6
    assert all(word in DIGITS for line in lines for word in line.split())
    assert digit_strings(400, seed=2) == lines and digit_strings(400, seed=3) != lines


@pytest.mark.skipif(
    not any(Path(p).exists() for p in ("/usr/bin/espeak-ng", "/usr/bin/flite")), reason="no synthesiser"
)
def test_recipe_speaks_digits_with_training_voices_at_telephone_bandwidth(tmp_path: Path):
    command = [
        sys.executable,
        str(PIPELINES / "digits.py"),
        "--out",
        str(tmp_path),
        "--count",
        "6",
        "--jobs",
        "1",
    ]
    subprocess.run(command, check=True, capture_output=True)
    utterances = list(read_manifest(tmp_path / "train.jsonl"))
    assert len(utterances) == 6
    assert not any(is_test_voice(u.speaker) for u in utterances)
    for utterance in utterances:
        assert all(word in DIGITS for word in utterance.text.split())
        audio, rate = read_audio(utterance.audio)  # the file as written: 8 kHz, as FSDD's are
        assert rate == 8000 and np.abs(audio).max() > 0.05
        assert abs(len(audio) / rate - utterance.duration) < 1e-3
