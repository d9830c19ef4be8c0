"""The model registry: one loader for every kind of model folder, architecture apart from loss settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from speech.assets import ASR_MODEL, SLT_VOICE
from speech.config import ConfigError, load_config
from speech.model_folder import ModelError
from speech.models.lpcnet import LPCNetConfig, LPCNetLossConfig
from speech.registry import ARCHITECTURES, load_model
from speech.tasks import TASKS

CONF = Path(__file__).resolve().parents[1] / "conf"


def test_every_task_trains_an_architecture_of_the_registry() -> None:
    assert set(TASKS) == set(ARCHITECTURES)
    config = load_config(CONF / "vocoder" / "lpc.yaml")
    assert isinstance(config.model, LPCNetConfig) and isinstance(config.loss, LPCNetLossConfig)
    assert (config.loss.segment_frames, config.loss.noise) == (5, 2.0)
    assert "noise" not in vars(config.model)  # the architecture carries no training settings
    assert TASKS["lpc_vocoder"](config).export()["model"] == vars(config.model)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.noise=1"], "model.noise"),  # a loss setting under model is an unknown key
        (["loss.noise=-1"], "noise must be >= 0"),
        (["loss.segment_frames=0"], "at least 1"),
    ],
)
def test_loss_settings_are_checked_in_their_own_section(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(CONF / "vocoder" / "lpc.yaml", overrides)


def test_old_exports_with_loss_settings_in_the_model_section_still_load(tmp_path: Path) -> None:
    shipped = json.loads((SLT_VOICE / "config.json").read_text())
    assert "duration_weight" in shipped["model"]  # exported before the loss section existed
    loaded = load_model(SLT_VOICE, "tts", "a voice")
    assert loaded.task == "tts" and not loaded.model.training and len(loaded.vocab) > 40
    with pytest.raises(ModelError, match="'asr' model, not a voice"):
        load_model(ASR_MODEL, "tts", "a voice")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps({**shipped, "model": {**shipped["model"], "decoder": 7}}))
    (bad / "model.safetensors").write_bytes((SLT_VOICE / "model.safetensors").read_bytes())
    with pytest.raises(ModelError, match="config and weights do not match"):
        load_model(bad, "tts", "a voice")
