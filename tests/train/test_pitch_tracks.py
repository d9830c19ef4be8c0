"""tools/pitch_tracks.py on real shards: one pYIN track per utterance by id, resumable, and a subframe vocoder
trains on them through the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from speech.cli import main
from speech.data.shards import iterate_shards
from speech.pitch import PitchTracks

pytestmark = pytest.mark.usefixtures("one_torch_thread")
REPO = Path(__file__).resolve().parents[2]


def test_tracks_cover_every_utterance_resume_and_train(tmp_path: Path, real_shards: Path) -> None:
    out = tmp_path / "pitch.npz"
    command = [sys.executable, str(REPO / "tools" / "pitch_tracks.py"), str(real_shards), "-o", str(out)]
    first = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "5 pitch tracks (5 new)" in first.stdout
    tracks = PitchTracks(out, 160, 16000)
    for sample in iterate_shards(real_shards):
        period, voiced = tracks.tracks[sample["id"]]
        assert len(period) == len(sample["audio"]) // 160 + 1
        assert np.isfinite(period).all() and 0.3 < voiced.mean() < 0.9  # read speech: voiced about half
    again = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "5 pitch tracks (0 new)" in again.stdout

    run = tmp_path / "run"
    status = main(
        [
            "train",
            str(REPO / "conf" / "vocoder" / "subframe_tiny.yaml"),
            f"data.train={real_shards}",
            "data.valid=",
            "train.max_steps=2",
            f"train.out_dir={run}",
            "model.harmonic_bands=2",
            f"loss.pitch_tracks={out}",
        ]
    )
    assert status == 0 and (run / "last" / "model.safetensors").exists()  # no validation: last only


def test_a_bad_sample_stops_it_in_one_line_keeping_what_was_measured(
    tmp_path: Path, librivox_dir: Path
) -> None:
    from speech.data.importers import import_sphinx
    from speech.data.shards import StoredFeatures, write_shards
    from speech.features import FeatureConfig

    utterances = import_sphinx(librivox_dir).utterances[:3]
    broken = utterances[2].id

    def frames(utterance, samples: np.ndarray) -> np.ndarray:
        return np.zeros(7) if utterance.id == broken else np.zeros((len(samples) // 160 + 1, 80))

    shards = tmp_path / "shards"
    write_shards(utterances, shards, max_samples=1, features=StoredFeatures("test", FeatureConfig(), frames))
    out = tmp_path / "pitch.npz"
    command = [sys.executable, str(REPO / "tools" / "pitch_tracks.py"), str(shards), "-o", str(out)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: {shards}/shard-000002.tar:{broken} (stored features): expected log-mel frames of shape "
        "(frames, mels), got (7,)"
    ]
    with np.load(out) as kept:
        assert sorted(k for k in kept.files if k.endswith(".period")) == [
            f"{u.id}.period" for u in utterances[:2]
        ]
