"""ONNX export of the shipped recognizer, and transcription through onnxruntime: the same transcripts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from speech.assets import ASR_MODEL, TTS_VOICE
from speech.audio import read_audio
from speech.cli import main
from speech.errors import SpeechError
from speech.recognizer import Recognizer

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("asr") / "asr"
    shutil.copytree(ASR_MODEL, folder)
    assert main(["export", str(folder), "--int8"]) == 0
    return folder


def test_onnx_posteriors_and_transcripts_match_torch(exported: Path, librivox_dir: Path) -> None:
    clips = sorted(librivox_dir.glob("*.wav"))
    audio = [read_audio(clip, 16000)[0] for clip in clips]
    torch_model, onnx_model = Recognizer.load(exported), Recognizer.load(exported, backend="onnx")
    expected, lengths = torch_model.log_probs(audio)  # a padded batch: the dynamic axes are exercised
    got, got_lengths = onnx_model.log_probs(audio)
    assert torch.equal(lengths, got_lengths)
    for row, length in enumerate(lengths.tolist()):
        assert (expected[row, :length] - got[row, :length]).abs().max() < 1e-3
    texts = [r.transcript.text for r in torch_model.transcribe(clips)]
    assert [r.transcript.text for r in onnx_model.transcribe(clips)] == texts
    assert all(len(text.split()) > 5 for text in texts)
    # int8 weights: close, not identical
    int8 = Recognizer.load(exported, backend="onnx-int8")
    quantized, _ = int8.log_probs(audio)
    agree = (quantized.argmax(-1) == expected.argmax(-1)).float().mean()
    assert (
        agree > 0.9
        and (exported / "model.int8.onnx").stat().st_size < (exported / "model.onnx").stat().st_size / 2
    )


def test_export_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    shutil.copy(ASR_MODEL / "config.json", tmp_path)
    shutil.copy(ASR_MODEL / "model.safetensors", tmp_path)
    with pytest.raises(SpeechError, match="no ONNX model here"):
        Recognizer.load(tmp_path, backend="onnx")
    (tmp_path / "model.onnx").write_bytes(b"not onnx")
    with pytest.raises(SpeechError, match="not a usable ONNX model"):
        Recognizer.load(tmp_path, backend="onnx")
    with pytest.raises(SpeechError, match="backend must be one of"):
        Recognizer.load(ASR_MODEL, backend="tpu")
    assert main(["export", str(TTS_VOICE), "-o", str(tmp_path / "voice.onnx")]) == 1
    assert "not a recognizer or aligner" in capsys.readouterr().err
    assert main(["export", str(ASR_MODEL), "-o", str(tmp_path / "model.bin")]) == 1
    assert "must be an .onnx file" in capsys.readouterr().err
