from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from speech.config import TrackingConfig
from speech.media import AudioMedia, ImageMedia
from speech.train.tracking import ENVIRONMENT, Tracker, init_arguments


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


def finish(tracker: Tracker) -> None:
    """Close the tracker and wait for W&B to write the run file (``run.finish`` may return before its service
    has; in ``speech train`` the process's exit waits)."""
    import wandb

    tracker.close()
    wandb.teardown()


def wandb_records(run_folder: Path) -> list:
    """The records of an offline run's ``.wandb`` file: W&B's LevelDB-style log (a 7-byte header, then 32 KiB
    blocks of chunks, each with a 7-byte header: checksum, length, kind), each record a protobuf."""
    from wandb.proto import wandb_internal_pb2

    (path,) = run_folder.glob("*.wandb")
    data, position, block, pending, records = path.read_bytes(), 7, 32768, b"", []
    while position + 7 <= len(data):
        left = block - position % block
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        if left < 7 or (length == 0 and kind == 0):  # the padded end of a block
            position += left
            continue
        pending += data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # a whole record, or the last chunk of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Offline W&B that reads this test's environment: W&B reads it once per process, at its first run, so
    the state an earlier test left is torn down first."""
    import wandb

    wandb.teardown()
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for variable in (
        "WANDB_PROJECT",
        "WANDB_NAME",
        "WANDB_RUN_ID",
        "WANDB_DIR",
        "WANDB_RESUME",
        "WANDB_LOG_MODEL",
    ):
        monkeypatch.delenv(variable, raising=False)
    for variable in ("WANDB_DATA_DIR", "WANDB_CACHE_DIR", "WANDB_ARTIFACT_DIR", "WANDB_CONFIG_DIR"):
        monkeypatch.setenv(variable, str(tmp_path / "wandb-home" / variable.lower()))  # not the home folder


def test_wandb_environment_variables_win_over_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline(monkeypatch, tmp_path)
    config = TrackingConfig(project="from-config", name="config-name")
    defaults = init_arguments(config, tmp_path / "run", {})
    assert {key: defaults[key] for key in ENVIRONMENT} == {
        "project": "from-config",
        "name": "config-name",
        "id": defaults["id"],
        "dir": str(tmp_path / "run"),
        "resume": "allow",
    }
    monkeypatch.setenv("WANDB_PROJECT", "team-project")
    monkeypatch.setenv("WANDB_NAME", "sweep-7")
    monkeypatch.setenv("WANDB_RUN_ID", "given0id")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "elsewhere"))
    (tmp_path / "elsewhere").mkdir()
    arguments = init_arguments(config, tmp_path / "run", {})
    assert set(ENVIRONMENT) & set(arguments) == {"resume"}  # W&B reads the others from the environment
    (tmp_path / "run").mkdir()
    finish(Tracker(config, {}, tmp_path / "run", active=True))
    (run,) = (tmp_path / "elsewhere" / "wandb").glob("offline-run-*-given0id")
    (start,) = [record.run for record in wandb_records(run) if record.WhichOneof("record_type") == "run"]
    assert (start.run_id, start.project, start.display_name) == ("given0id", "team-project", "sweep-7")
    assert (tmp_path / "run" / "wandb_run_id").read_text() == "given0id"  # a resume continues that run


def test_best_metric_in_the_summary_and_the_model_as_an_artifact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline(monkeypatch, tmp_path)
    run_config = {"train": {"best_metric": "cer", "best_mode": "min"}}
    best = tmp_path / "best"
    best.mkdir()
    (best / "model.safetensors").write_bytes(b"weights")
    (best / "config.json").write_text(json.dumps({"task": "asr", "step": 2, "metrics": {"cer": 0.25}}))
    tracker = Tracker(TrackingConfig(), run_config, tmp_path, active=True)
    for step, cer in enumerate([0.5, 0.25, 0.4], start=1):
        tracker.log({"valid/cer": cer}, step=step)
    tracker.log_model(tmp_path / "missing", ["latest"])  # no model there: nothing logged
    finish(tracker)
    (run,) = (tmp_path / "wandb").glob("offline-run-*")
    records = wandb_records(run)
    summaries = {
        "/".join(item.nested_key or [item.key]): json.loads(item.value_json)
        for record in records
        if record.WhichOneof("record_type") == "summary"
        for item in record.summary.update
    }
    assert summaries["valid/cer"] == {"min": 0.25}  # the best, not the last (0.4)
    (artifact,) = [record.artifact for record in records if record.WhichOneof("record_type") == "artifact"]
    assert (artifact.name, artifact.type) == (f"model-{tracker_id(tmp_path)}", "model")
    assert "best" in artifact.aliases and json.loads(artifact.metadata)["metrics"] == {"cer": 0.25}
    assert {entry.path for entry in artifact.manifest.contents} == {"model.safetensors", "config.json"}


def test_log_model_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    offline(monkeypatch, tmp_path)
    (tmp_path / "best").mkdir()
    (tmp_path / "best" / "model.safetensors").write_bytes(b"weights")
    monkeypatch.setenv("WANDB_LOG_MODEL", "false")
    finish(Tracker(TrackingConfig(), {}, tmp_path, active=True))
    (run,) = (tmp_path / "wandb").glob("offline-run-*")
    assert not [record for record in wandb_records(run) if record.WhichOneof("record_type") == "artifact"]


def tracker_id(out_dir: Path) -> str:
    return (out_dir / "wandb_run_id").read_text()
