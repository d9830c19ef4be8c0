"""ONNX export of the recognizer, transcription through onnxruntime (the same transcripts), the shipped ONNX
file kept in step with the shipped weights, and a transcription run that never imports torch."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from speech.assets import ASR_MODEL, TTS_VOICE
from speech.audio import read_audio
from speech.cli import main
from speech.errors import SpeechError
from speech.export import DIGEST_KEY, ONNX_FILE, OnnxAcousticModel, weights_digest
from speech.logmel import FeatureConfig
from speech.model_folder import ModelError
from speech.recognizer import Recognizer

pytest.importorskip("onnx")
POSTERIOR_TOLERANCE = 1e-3  # log-probabilities, ONNX against torch; measured: about 1e-5
HEAVY = ("torch", "torchaudio", "scipy", "numba", "wandb", "webdataset", "librosa")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("asr") / "asr"
    shutil.copytree(ASR_MODEL, folder)
    (folder / ONNX_FILE).unlink()  # written again below
    assert main(["export", str(folder), "--int8"]) == 0
    return folder


def assert_same_as_torch(folder: Path, librivox_dir: Path, backend: str = "onnx") -> None:
    """Posteriors within POSTERIOR_TOLERANCE of the torch model's on a padded batch of real read speech (the
    dynamic axes exercised), and the same greedy transcripts."""
    clips = sorted(librivox_dir.glob("*.wav"))
    audio = [read_audio(clip, 16000)[0] for clip in clips]
    reference, onnx_model = Recognizer.load(folder, backend="torch"), Recognizer.load(folder, backend=backend)
    assert (reference.backend, onnx_model.backend) == ("torch", backend)
    expected, lengths = reference.log_probs(audio)
    got, got_lengths = onnx_model.log_probs(audio)
    assert torch.equal(lengths, got_lengths)
    for row, length in enumerate(lengths.tolist()):
        assert (expected[row, :length] - got[row, :length]).abs().max() < POSTERIOR_TOLERANCE, clips[row]
    texts = [r.transcript.text for r in reference.transcribe(clips)]
    assert [r.transcript.text for r in onnx_model.transcribe(clips)] == texts
    assert all(len(text.split()) > 5 for text in texts)


def test_onnx_posteriors_and_transcripts_match_torch(exported: Path, librivox_dir: Path) -> None:
    assert_same_as_torch(exported, librivox_dir)
    assert (exported / ONNX_FILE).read_bytes() == (ASR_MODEL / ONNX_FILE).read_bytes()  # export is repeatable
    # int8 weights: close, not identical
    audio = [read_audio(clip, 16000)[0] for clip in sorted(librivox_dir.glob("*.wav"))]
    expected, _ = Recognizer.load(exported, backend="torch").log_probs(audio)
    quantized, _ = Recognizer.load(exported, backend="onnx-int8").log_probs(audio)
    agree = (quantized.argmax(-1) == expected.argmax(-1)).float().mean()
    assert (
        agree > 0.9
        and (exported / "model.int8.onnx").stat().st_size < (exported / "model.onnx").stat().st_size / 2
    )


def test_the_shipped_onnx_file_is_the_shipped_weights(librivox_dir: Path) -> None:
    """speech/assets/asr/model.onnx must never go stale: after new weights, `speech export` writes it again."""
    model = OnnxAcousticModel(ASR_MODEL / ONNX_FILE, FeatureConfig())
    assert model.weights_digest == weights_digest(ASR_MODEL), "stale model.onnx: run `speech export`"
    assert_same_as_torch(ASR_MODEL, librivox_dir)
    assert Recognizer.load().backend == "onnx"  # the default, as measured in docs/benchmarks.md


def test_auto_backend_never_runs_stale_weights(
    exported: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "asr"
    shutil.copytree(exported, folder)
    weights = load_file(folder / "model.safetensors")
    name = next(key for key in weights if key.startswith("output."))
    weights[name] = weights[name] + 0.5  # fine-tuned after the export
    save_file(weights, folder / "model.safetensors")
    with caplog.at_level(logging.WARNING, logger="speech.recognizer"):
        assert Recognizer.load(folder).backend == "torch"
    assert "not exported from the weights beside it" in caplog.text
    with pytest.raises(ModelError, match="exported from other weights than .*model.safetensors"):
        Recognizer.load(folder, backend="onnx")
    assert main(["export", str(folder)]) == 0  # exported again: in step
    assert Recognizer.load(folder).backend == "onnx"
    (folder / "model.safetensors").unlink()  # an ONNX-only copy of a model runs as it is
    assert Recognizer.load(folder).backend == "onnx"
    with pytest.raises(SpeechError, match="runs on the CPU, not cuda"):
        Recognizer.load(folder, device="cuda", backend="onnx")


def test_transcription_never_imports_torch(librivox_dir: Path, tmp_path: Path) -> None:
    """The shipped model, default options: the command and the library, in a fresh interpreter."""
    clip = sorted(librivox_dir.glob("*.wav"))[1]
    script = (
        "import sys\n"
        "from speech.cli import main\n"
        f"assert main(['transcribe', {str(clip)!r}, '-o', {str(tmp_path)!r}]) == 0\n"
        f"print(' '.join(name for name in {HEAVY!r} if name in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == ""  # no heavy module loaded
    expected = Recognizer.load(backend="torch").transcribe_file(clip).text
    assert (tmp_path / f"{clip.stem}.txt").read_text().strip() == expected and len(expected.split()) > 5


def test_export_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    shutil.copy(ASR_MODEL / "config.json", tmp_path)
    shutil.copy(ASR_MODEL / "model.safetensors", tmp_path)
    with pytest.raises(SpeechError, match="no ONNX model here"):
        Recognizer.load(tmp_path, backend="onnx")
    assert Recognizer.load(tmp_path).backend == "torch"  # auto: nothing exported
    (tmp_path / "model.onnx").write_bytes(b"not onnx")
    with pytest.raises(SpeechError, match="not a usable ONNX model"):
        Recognizer.load(tmp_path, backend="onnx")
    assert Recognizer.load(tmp_path).backend == "torch"  # auto: a broken export is passed over
    with pytest.raises(SpeechError, match="backend must be one of"):
        Recognizer.load(ASR_MODEL, backend="tpu")
    assert main(["export", str(TTS_VOICE), "-o", str(tmp_path / "voice.onnx")]) == 1
    assert "a voice exports three files; name a folder" in capsys.readouterr().err
    assert main(["export", str(ASR_MODEL), "-o", str(tmp_path / "model.bin")]) == 1
    assert "must be an .onnx file" in capsys.readouterr().err


def test_digest_is_recorded_in_both_exports(exported: Path) -> None:
    import onnx

    for name in ("model.onnx", "model.int8.onnx"):
        metadata = {entry.key: entry.value for entry in onnx.load(exported / name).metadata_props}
        assert metadata[DIGEST_KEY] == weights_digest(exported), name
