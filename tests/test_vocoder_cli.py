"""The vocoder end to end: `speech train` on shards of real speech, then `speech vocode` on its export.

The tiny model's sound is not the point (the shipped vocoder's quality is measured by its recipe); these
tests check that training learns through the shared engine and that the command does its job.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from speech.audio import read_audio, write_audio
from speech.cli import main
from speech.data.importers import import_sphinx
from speech.data.shards import write_shards
from speech.features import FeatureConfig, FeatureExtractor
from speech.model_folder import ModelError
from speech.vocoder import load_vocoder

CONFIGS = Path(__file__).resolve().parents[1] / "conf" / "vocoder"


@pytest.fixture(scope="module", params=["tiny", "lpc_tiny", "subframe_tiny"])
def run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, librivox_dir: Path
) -> Iterator[Path]:
    """A tiny vocoder of each kind (4-band WaveRNN, LPC, subframe) trained for 30 steps; on one torch thread (tiny ops
    only lose time to more)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    work = tmp_path_factory.mktemp("vocoder")
    write_shards(import_sphinx(librivox_dir).utterances, work / "shards", max_samples=2)
    status = main(
        [
            "train",
            str(CONFIGS / f"{request.param}.yaml"),
            f"data.train={work / 'shards'}",
            f"data.valid={work / 'shards'}",
            f"train.out_dir={work / 'run'}",
            "train.max_steps=30",
            "train.valid_every=30",
        ]
    )
    assert status == 0
    yield work / "run"
    torch.set_num_threads(threads)


def test_speech_train_tiny_vocoder_learns(run: Path) -> None:
    exported = json.loads((run / "last" / "config.json").read_text())
    assert exported["task"] in ("vocoder", "lpc_vocoder", "subframe_vocoder") and exported["step"] == 30
    assert exported["model"]["input_dims"] == 80 and exported["model"]["hop_length"] == 160
    assert {"loss", "mel_l1"} <= set(exported["metrics"])
    train = [
        r["train/loss"]
        for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
        if "train/loss" in r
    ]
    assert train[-1] < train[0] - 0.3
    if exported["task"] == "subframe_vocoder":  # a spectral loss, and an F0 head judged against YIN
        assert {"voicing_error", "gross_pitch_error"} <= set(exported["metrics"])
        assert exported["model"]["min_period"] == 32 and exported["model"]["max_period"] == 267
    else:
        chance = math.log(2 ** exported["model"].get("bits", 8))  # an untrained softmax's cross-entropy
        assert exported["metrics"]["loss"] < chance - 0.5
    vocoder = load_vocoder(run / "last")  # the export loads for generation
    assert vars(vocoder.config) == exported["model"]


def test_speech_vocode_audio_and_mel_files(
    run: Path, speech_wav: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    samples, _ = read_audio(speech_wav, 16000)
    mel = FeatureExtractor(FeatureConfig())(samples).numpy()
    np.save(inputs / "mel.npy", mel)
    (inputs / "fox.wav").write_bytes(speech_wav.read_bytes())
    (inputs / "broken.wav").write_bytes(b"RIFF....WAVEjunk")
    (inputs / "broken.npy").write_bytes(b"not an array")
    np.save(inputs / "narrow.npy", mel[:, :40])
    out = tmp_path / "out"

    status = main(["vocode", str(inputs), "-o", str(out), "--model", str(run / "last")])
    captured = capsys.readouterr()
    assert status == 1
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 3 and all(
        name in captured.err for name in ("broken.wav", "broken.npy", "narrow.npy")
    )
    assert "2 vocoded" in captured.out and "3 failed" in captured.out
    assert len((out / "failures.txt").read_text().splitlines()) == 3

    copied = sf.info(str(out / "fox.wav"))
    assert copied.samplerate == 16000 and copied.frames == len(samples)  # copy synthesis keeps the length
    from_mel = sf.info(str(out / "mel.wav"))
    assert from_mel.samplerate == 16000 and from_mel.frames == len(mel) * 160
    assert np.abs(sf.read(str(out / "mel.wav"))[0]).max() > 0

    # Done files are skipped on a rerun, and the same seed gives the same samples.
    first = sf.read(str(out / "mel.wav"))[0]
    assert main(["vocode", str(inputs / "mel.npy"), "-o", str(out), "--model", str(run / "last")]) == 0
    assert "1 already done" in capsys.readouterr().out
    assert (
        main(["vocode", str(inputs / "mel.npy"), "-o", str(out), "--model", str(run / "last"), "--overwrite"])
        == 0
    )
    np.testing.assert_array_equal(sf.read(str(out / "mel.wav"))[0], first)


def test_vocoder_folder_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"task": "asr"}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelError, match="not a vocoder"):
        load_vocoder(tmp_path)
    assert main(["vocode", "x.npy", "--model", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "missing" in err and len(err.splitlines()) == 1
    (tmp_path / "taken.wav").write_bytes(b"")
    assert main(["vocode", "x.npy", "--output_dir", str(tmp_path / "taken.wav")]) == 1
    err = capsys.readouterr().err
    assert err == f"error: {tmp_path / 'taken.wav'}: -o must be a folder, and this is an existing file\n"


def test_speech_vocode_with_griffin_lim(
    speech_wav: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    samples, _ = read_audio(speech_wav, 16000)
    mel = FeatureExtractor(FeatureConfig())(samples).numpy()
    np.save(tmp_path / "mel.npy", mel)
    np.save(tmp_path / "nan.npy", np.full_like(mel, np.nan))
    np.save(tmp_path / "empty.npy", mel[:0])
    status = main(["vocode", str(tmp_path), "-o", str(tmp_path / "out"), "--model", "griffin-lim"])
    captured = capsys.readouterr()
    assert status == 1 and "1 vocoded" in captured.out and "2 failed" in captured.out
    assert "nan.npy: log-mel frames must be finite" in captured.err and "empty.npy: expected" in captured.err
    generated, rate = sf.read(str(tmp_path / "out" / "mel.wav"))
    assert rate == 16000 and len(generated) == len(mel) * 160
    # Griffin-Lim from the mel keeps the speech: its own mel is close to the input's.
    again = FeatureExtractor(FeatureConfig())(generated.astype(np.float32)).numpy()[: len(mel)]
    assert np.abs(again - mel).mean() < 1.0


def test_speech_vocode_names_keep_every_dot_of_the_input(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """talk.part1.wav and talk.part2.wav once both wrote talk.wav."""
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(8000) / 16000)
    for name in ("talk.part1.wav", "talk.part2.wav"):
        write_audio(tmp_path / name, tone, 16000)
    out = tmp_path / "out"
    assert (
        main(
            [
                "vocode",
                str(tmp_path / "talk.part1.wav"),
                str(tmp_path / "talk.part2.wav"),
                "-o",
                str(out),
                "--model",
                "griffin-lim",
            ]
        )
        == 0
    )
    assert sorted(path.name for path in out.iterdir()) == ["talk.part1.wav", "talk.part2.wav"]
    capsys.readouterr()
