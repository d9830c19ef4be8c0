from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from speech.device import resolve_device
from speech.errors import SpeechError


def test_devices_resolve_or_fail_in_one_line() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(SpeechError, match=r"--device gpu: not a device"):
        resolve_device("gpu")
    with pytest.raises(SpeechError, match=r"--device mps: only cpu and cuda"):
        resolve_device("mps")
    with pytest.raises(SpeechError, match=r"train.device cuda:99"):
        resolve_device("cuda:99", "train.device")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("command", ["transcribe", "vocode", "synthesize"])
def test_asking_for_a_gpu_without_one_is_one_line(command: str, speech_wav: Path, tmp_path: Path) -> None:
    source = speech_wav
    if command == "synthesize":
        source = tmp_path / "text.txt"
        source.write_text("Hello there.\n")
    arguments = [command, str(source), "-o", str(tmp_path / "out"), "--device", "cuda"]
    if command == "vocode":  # no vocoder ships yet: an untrained one has the same device handling
        arguments += ["--model", str(untrained_vocoder(tmp_path))]
    result = subprocess.run(
        [sys.executable, "-m", "speech", *arguments], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip().splitlines()[-1]
        == "error: --device cuda: CUDA is not available on this machine"
    )
    assert "Traceback" not in result.stderr


def untrained_vocoder(folder: Path) -> Path:
    import json

    from speech.features import FeatureConfig
    from speech.models.vocoder import VocoderModel, VocoderModelConfig
    from speech.train.checkpoint import save_weights

    model_folder = folder / "vocoder"
    model_folder.mkdir()
    config = VocoderModelConfig(hidden=16, cond=8, fc=8)
    save_weights(model_folder / "model.safetensors", VocoderModel(config).state_dict())
    exported = {"task": "vocoder", "model": vars(config), "features": FeatureConfig().to_dict()}
    (model_folder / "config.json").write_text(json.dumps(exported))
    return model_folder
