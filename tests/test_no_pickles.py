"""Nothing the toolkit loads is unpickled: model folders, checkpoints and mel files hold safetensors, JSON or
plain .npy, so a pickled payload put in their place is refused in one line and never run."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from speech.cli.vocode import load_mel
from speech.errors import SpeechError
from speech.recognizer import Recognizer
from speech.train.checkpoint import load_checkpoint, save_checkpoint


class Payload:
    """Unpickling this opens (creates) the marker file: proof that the pickle was executed."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def _plant(path: Path, marker: Path, how: str) -> None:
    if how == "pickle":
        path.write_bytes(pickle.dumps(Payload(marker)))
    else:
        torch.save({"w": Payload(marker)}, path)  # the zip format torch.load would unpickle


@pytest.mark.parametrize("how", ["pickle", "torch.save"])
def test_a_pickled_model_folder_is_refused_unrun(tmp_path: Path, how: str) -> None:
    marker = tmp_path / "ran"
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text('{"task": "asr"}')
    _plant(tmp_path / "model" / "model.safetensors", marker, how)
    with pytest.raises(SpeechError, match="model: unreadable weights") as caught:
        Recognizer.load(tmp_path / "model")
    assert "\n" not in str(caught.value) and not marker.exists()


@pytest.mark.parametrize("member", ["model.safetensors", "state.safetensors"])
def test_a_pickled_checkpoint_is_refused_unrun(tmp_path: Path, member: str) -> None:
    marker = tmp_path / "ran"
    folder = save_checkpoint(tmp_path, 1, {"w": torch.ones(2)}, {"step": 1})
    _plant(folder / member, marker, "torch.save")
    with pytest.raises(SpeechError, match="step-000000001: unreadable checkpoint"):
        load_checkpoint(folder)
    assert not marker.exists()


def test_a_pickled_mel_file_is_refused_unrun(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    np.save(tmp_path / "mel.npy", np.array([Payload(marker)], dtype=object), allow_pickle=True)
    with pytest.raises(SpeechError, match="mel.npy: not a NumPy .npy array file"):
        load_mel(tmp_path / "mel.npy")
    assert not marker.exists()
