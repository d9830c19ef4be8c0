"""``speech prepare`` end to end: corpus in, manifest out, skips logged, exit status right."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from speech.audio import write_audio
from speech.cli import main
from speech.data.importers import IMPORTERS
from speech.data.manifest import read_manifest


def tone(path: Path, seconds: float, rate: int = 16000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_audio(path, 0.2 * np.sin(np.arange(int(seconds * rate)) * 2 * np.pi * 330 / rate), rate)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A folder-layout corpus: two speakers, one clip without transcript, one empty clip."""
    folder = tmp_path / "corpus"
    tone(folder / "ann" / "a1.wav", 1.0)
    (folder / "ann" / "a1.txt").write_text("Hello, world.")
    tone(folder / "ben" / "b1.flac", 2.0)
    (folder / "ben" / "b1.txt").write_text("Second clip")
    tone(folder / "ben" / "b2.wav", 0.5)
    (folder / "ben" / "b3.wav").write_bytes(b"")
    (folder / "ben" / "b3.txt").write_text("Empty audio")
    return folder


def test_prepare_writes_the_manifest(
    corpus: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture
):
    caplog.set_level(logging.INFO)
    manifest = tmp_path / "out" / "train.jsonl"
    assert main(["prepare", "folder", str(corpus), "-o", str(manifest)]) == 0
    utterances = {u.id: u for u in read_manifest(manifest)}
    assert sorted(utterances) == ["ann-a1", "ben-b1"]
    assert utterances["ann-a1"].text == "Hello, world." and utterances["ann-a1"].speaker == "ann"
    assert utterances["ben-b1"].duration == pytest.approx(2.0)
    assert Path(utterances["ben-b1"].audio).is_absolute()
    assert f"{(corpus / 'ben' / 'b2.wav').absolute()}: no transcript (b2.txt not found)" in caplog.messages
    assert "importing" not in capsys.readouterr().err  # the progress bar shows on a terminal only
    assert f"{(corpus / 'ben' / 'b3.wav').absolute()}: file is empty" in caplog.messages
    summary = caplog.messages[-1]
    assert summary.startswith("2 utterances (0.00 h), 2 speakers, 2 skipped")
    assert not list(manifest.parent.glob(".*.tmp"))


def test_prepare_csv_options(tmp_path: Path):
    tone(tmp_path / "clips" / "x.wav", 0.8)
    (tmp_path / "list.tsv").write_text("file\tsentence\tspeaker\nclips/x.wav\tA tone.\tzed\n")
    manifest = tmp_path / "m.jsonl"
    argv = [
        "prepare",
        "csv",
        str(tmp_path / "list.tsv"),
        "-o",
        str(manifest),
        "--audio-column",
        "file",
        "--text-column",
        "sentence",
        "--speaker-column",
        "speaker",
        "--delimiter",
        "tab",
    ]
    assert main(argv) == 0
    (utterance,) = read_manifest(manifest)
    assert (utterance.id, utterance.text, utterance.speaker) == ("clips-x", "A tone.", "zed")
    assert utterance.duration == pytest.approx(0.8)


def test_nothing_imported_exits_1_without_a_manifest(tmp_path: Path, capsys: pytest.CaptureFixture):
    folder = tmp_path / "corpus"
    tone(folder / "s" / "only.wav", 0.5)  # no transcript
    manifest = tmp_path / "m.jsonl"
    assert main(["prepare", "folder", str(folder), "-o", str(manifest)]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "nothing imported" in error and "\n" not in error
    assert not manifest.exists()


def test_wrong_layout_and_stray_options_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture):
    assert main(["prepare", "librispeech", str(tmp_path), "-o", str(tmp_path / "m.jsonl")]) == 1
    assert "trans.txt" in capsys.readouterr().err
    assert main(["prepare", "folder", str(tmp_path), "-o", str(tmp_path / "m.jsonl"), "--split", "dev"]) == 1
    assert "--split does not apply to format 'folder'" in capsys.readouterr().err


def test_an_output_that_is_a_folder_is_one_line(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    (tmp_path / "out").mkdir()
    assert main(["prepare", "folder", str(corpus), "-o", str(tmp_path / "out")]) == 1
    error = capsys.readouterr().err
    assert (
        f"error: {tmp_path / 'out'}: -o must name the manifest file to write, and this is a folder" in error
    )
    assert "Traceback" not in error and list((tmp_path / "out").iterdir()) == []


def test_help_lists_every_format_and_option(capsys: pytest.CaptureFixture):
    with pytest.raises(SystemExit) as stopped:
        main(["prepare", "--help"])
    assert stopped.value.code == 0
    text = capsys.readouterr().out
    for name in IMPORTERS:
        assert f"\n  {name} " in text
    for option in (
        "--out",
        "--split",
        "--audio-column",
        "--text-column",
        "--speaker-column",
        "--delimiter",
    ):
        assert option in text


def test_prepare_real_sphinx_clips(librivox_dir: Path, tmp_path: Path):
    manifest = tmp_path / "librivox.jsonl"
    assert main(["prepare", "sphinx", str(librivox_dir), "-o", str(manifest)]) == 0
    utterances = list(read_manifest(manifest))
    assert len(utterances) == 5
    assert sum(u.duration for u in utterances) == pytest.approx(24.73, abs=0.05)
