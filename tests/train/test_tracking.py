from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from speech.train.config import TrackingConfig
from speech.train.tracking import AudioMedia, ImageMedia, Tracker


def test_offline_run_records_scalars_and_media(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    tracker = Tracker(TrackingConfig(project="speech-tests"), {"optim": {"lr": 0.1}}, tmp_path, active=True)
    tone = np.sin(np.linspace(0, 2000, 16000)).astype(np.float32)
    tracker.log({"train/loss": 1.5, "train/lr": 0.1}, step=1)
    tracker.log(
        {
            "valid/cer": 0.25,
            "media/audio": AudioMedia(tone, 16000, "a tone"),
            "media/posteriors": ImageMedia(np.random.default_rng(0).random((29, 50))),
        },
        step=2,
    )
    tracker.close()
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert records == [{"step": 1, "train/loss": 1.5, "train/lr": 0.1}, {"step": 2, "valid/cer": 0.25}]
    (run,) = (tmp_path / "wandb").glob("offline-run-*")
    assert list(run.glob("*.wandb")) and list(run.rglob("*.wav"))  # the run file and the logged audio
    assert (tmp_path / "wandb_run_id").read_text() in run.name  # a resumed run reuses the id


def test_inactive_ranks_log_nothing(tmp_path: Path) -> None:
    tracker = Tracker(TrackingConfig(mode="offline"), {}, tmp_path, active=False)
    tracker.log({"train/loss": 1.0}, step=1)
    tracker.close()
    assert not any(tmp_path.iterdir())
