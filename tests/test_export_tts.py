"""ONNX export of the shipped voice's acoustic model (``speech export VOICE``): the three graphs, run by
:class:`OnnxVoiceModel` with the frame loop in numpy, give the torch model's frames per token and mel frames
on sentences the voice never trained on, and an export older than the weights is refused."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from speech.assets import TTS_VOICE
from speech.cli import main
from speech.errors import SpeechError
from speech.synthesizer import Synthesizer, minimum_frames
from speech.tts_onnx import POSTNET_FILE, OnnxVoiceModel

pytest.importorskip("onnx")
pytestmark = pytest.mark.usefixtures("one_torch_thread")
MEL_TOLERANCE = 1e-3  # log-mel, ONNX against torch over whole sentences; measured: about 2e-5
SENTENCES = [  # not in the voice's training text (tools/corpus_text/sentences.txt)
    "The ferry left the harbour before the fog lifted.",
    "Nobody counted the birds on the roof that winter.",
    "Please bring two chairs and a lamp to the back room.",
]


@pytest.fixture(scope="module")
def voice_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("voice") / "voice"
    shutil.copytree(TTS_VOICE, folder)
    assert main(["export", str(folder)]) == 0
    return folder


def recording_prenet_dropout(masks: list[torch.Tensor]) -> Callable:
    """``F.dropout`` that keeps the masks it draws for training-mode calls (only the pre-net's, in an
    eval-mode model), so the ONNX decoder can be given the same ones."""
    original = torch.nn.functional.dropout

    def dropout(
        x: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
    ) -> torch.Tensor:
        if not training:
            return original(x, p, training, inplace)
        masks.append(original(torch.ones_like(x), p, True))
        return x * masks[-1]

    return dropout


def test_onnx_frames_match_torch_on_new_sentences(
    voice_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    voice = Synthesizer.load(voice_folder, vocoder="griffin-lim")
    runner = OnnxVoiceModel(voice_folder)
    for text in SENTENCES:
        (sentence,) = voice.sentences(text)
        tokens = torch.tensor([voice.vocab.encode(sentence)])
        lengths, minimum = torch.tensor([tokens.shape[1]]), minimum_frames([sentence], tokens.shape[1])
        _, log_durations = voice.model.encode(tokens, lengths)
        durations = voice.model.durations(log_durations, lengths, 1.3, minimum)
        memory, got_durations = runner.encode(tokens[0].numpy(), 1.3, minimum[0].numpy())
        assert np.array_equal(got_durations, durations[0].numpy()), text
        masks: list[torch.Tensor] = []
        with monkeypatch.context() as patch:
            patch.setattr(torch.nn.functional, "dropout", recording_prenet_dropout(masks))
            expected, _ = voice.model.generate(tokens, lengths, durations)
        frames = int(durations.sum())
        assert len(masks) == 2 * frames and frames > 100
        drawn = torch.stack(masks).reshape(frames, 2, 1, -1).numpy()
        got = runner.decode(memory, got_durations, masks=drawn)
        assert got.shape == expected[0].shape
        assert np.abs(got - expected[0].numpy()).max() < MEL_TOLERANCE, text
    # the runner's own masks: the same for a seed, another sample of the pre-net's noise than torch's
    own = runner.decode(memory, got_durations, seed=3)
    assert np.array_equal(own, runner.decode(memory, got_durations, seed=3))
    assert 0.05 < np.abs(own - got).mean() < 2.0  # log-mel; the voice's frames average about 8.7 in size


def test_a_stale_or_partial_export_is_refused(voice_folder: Path, tmp_path: Path) -> None:
    stale = tmp_path / "voice"
    shutil.copytree(voice_folder, stale)
    weights = load_file(stale / "model.safetensors")
    weights["project.bias"] = weights["project.bias"] + 0.01
    save_file(weights, stale / "model.safetensors")
    with pytest.raises(SpeechError, match="not made from these weights"):
        OnnxVoiceModel(stale)
    (stale / POSTNET_FILE).unlink()
    with pytest.raises(SpeechError, match=f"{POSTNET_FILE}: no ONNX model here"):
        OnnxVoiceModel(stale)


def test_export_errors_are_one_line(
    voice_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["export", str(voice_folder), "--int8"]) != 0
    assert main(["export", str(voice_folder), "-o", str(voice_folder / "model.safetensors")]) != 0
    assert main(["export", str(tmp_path)]) != 0
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and "Traceback" not in "".join(errors), errors
    assert "--int8 is for recognizers" in errors[0] and "name a folder" in errors[1]
