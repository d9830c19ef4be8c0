"""Checkpoints: a damaged newest one is skipped on resume for the one before it, saying why; a failed save
leaves nothing half-written."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from speech.audio import OutputError
from speech.train.checkpoint import (
    CheckpointError,
    list_checkpoints,
    load_checkpoint,
    resume_latest,
    save_checkpoint,
)


def _save(root: Path, step: int) -> Path:
    weights = {"w": torch.full((4, 3), float(step))}
    return save_checkpoint(root, step, weights, {"step": step, "moments": (torch.ones(2) * step, None)})


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_resume_skips_a_truncated_newest_checkpoint_saying_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for step in (10, 20, 30):
        _save(tmp_path, step)
    _truncate(tmp_path / "step-000000030" / "model.safetensors")
    (tmp_path / "step-000000020" / "state.json").write_text('{"__dict__": [[')  # cut short
    with pytest.raises(CheckpointError, match="step-000000030: unreadable checkpoint"):
        load_checkpoint(tmp_path / "step-000000030")

    restored = []
    caplog.set_level(logging.WARNING)
    folder = resume_latest(tmp_path, lambda folder, model, state: restored.append((folder, model, state)))
    assert folder == tmp_path / "step-000000010"
    ((_, model, state),) = restored
    assert torch.equal(model["w"], torch.full((4, 3), 10.0)) and state["step"] == 10
    assert torch.equal(state["moments"][0], torch.full((2,), 10.0)) and state["moments"][1] is None
    skipped = [
        record.getMessage() for record in caplog.records if "skipping checkpoint" in record.getMessage()
    ]
    assert len(skipped) == 2 and "step-000000030: unreadable checkpoint" in skipped[0]
    assert "step-000000020: unreadable checkpoint" in skipped[1] and "\n" not in "".join(skipped)
    assert "resumed from" in caplog.records[-1].getMessage() and "skipping 2 newer" in caplog.text


def test_a_checkpoint_that_does_not_fit_is_skipped_and_none_loading_is_one_error(tmp_path: Path) -> None:
    assert resume_latest(tmp_path / "none", lambda *_: None) is None  # nothing to resume: a fresh start
    for step in (1, 2):
        _save(tmp_path, step)

    def refuse(folder: Path, model: dict, state: dict) -> None:
        torch.nn.Linear(2, 2).load_state_dict(model)  # RuntimeError over several lines

    with pytest.raises(CheckpointError) as caught:
        resume_latest(tmp_path, refuse)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path}: none of the 2 checkpoints loads; newest: ")
    assert "step-000000002: does not fit this run (Error(s) in loading state_dict" in message
    assert "\n" not in message
    (tmp_path / "step-000000002" / "state.json").write_text("[1, 2]")  # valid JSON, not trainer state
    with pytest.raises(CheckpointError, match="state.json holds no trainer state"):
        load_checkpoint(tmp_path / "step-000000002")


def test_a_checkpoint_save_that_fails_leaves_no_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _save(tmp_path, 1)

    def disk_full(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("speech.audio.os.fsync", disk_full)
    with pytest.raises(OutputError, match="model.safetensors: cannot write \\(No space left on device\\)$"):
        _save(tmp_path, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-000000001"]
    assert list_checkpoints(tmp_path) == [tmp_path / "step-000000001"]


def test_weights_carry_format_version_task_and_creator_and_old_files_still_load(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    from speech import __version__
    from speech.train.checkpoint import FORMAT_VERSION, read_weights_metadata, save_weights

    weights = {"w": torch.arange(6.0).reshape(2, 3)}
    save_weights(tmp_path / "model.safetensors", weights, metadata={"task": "asr"})
    assert read_weights_metadata(tmp_path / "model.safetensors") == {
        "format": "pt",
        "format_version": FORMAT_VERSION,
        "created_by": f"speech {__version__}",
        "task": "asr",
    }
    assert torch.equal(load_file(str(tmp_path / "model.safetensors"))["w"], weights["w"])
    folder = _save(tmp_path / "checkpoints", 3)  # checkpoints carry the header too
    assert read_weights_metadata(folder / "model.safetensors")["format_version"] == FORMAT_VERSION

    save_file(weights, str(tmp_path / "old.safetensors"))  # written before the header existed
    assert read_weights_metadata(tmp_path / "old.safetensors") == {}
    assert torch.equal(load_file(str(tmp_path / "old.safetensors"))["w"], weights["w"])

    with pytest.raises(TypeError, match="must be strings"):
        save_weights(tmp_path / "bad.safetensors", weights, metadata={"step": 5})  # type: ignore[dict-item]
    (tmp_path / "junk.safetensors").write_bytes(b"not weights")
    for path in (tmp_path / "junk.safetensors", tmp_path / "missing.safetensors"):
        with pytest.raises(CheckpointError, match="unreadable weights"):
            read_weights_metadata(path)
