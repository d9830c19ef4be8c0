"""The batch commands' inputs and output names: every name inside the output folder, each used once a job."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from speech.cli.inputs import expand_inputs
from speech.cli.outputs import OutputNames, output_folder, safe_stem
from speech.errors import SpeechError


def _any_file(path: Path) -> bool:
    return path.is_file()


def _stems(inputs: list[str]) -> list[tuple[str, str]]:
    return [(str(path), str(stem)) for path, stem in expand_inputs(inputs, _any_file)]


def _inside(out: Path, stem: Path) -> bool:
    target = (out / stem).resolve()
    return target != out.resolve() and target.is_relative_to(out.resolve())


def test_stems_made_only_of_dots_stay_inside_the_output_folder(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("..wav", "...wav", ".wav", "a..wav"):
        (folder / name).write_bytes(b"x")
    named = _stems([str(folder / "..wav"), str(folder / "...wav"), str(folder / ".wav")])
    assert [stem for _, stem in named] == ["__wav", "___wav", ".wav"]
    scanned = dict(_stems([str(folder)]))
    assert scanned[str(folder / "..wav")] == "__wav" and scanned[str(folder / "a..wav")] == "a."
    for out in (tmp_path / "out", Path(".")):
        for _, stem in named + list(scanned.items()):
            assert _inside(out, Path(stem)), (out, stem)


def test_names_that_collide_in_one_job_get_distinct_deterministic_stems(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    for name in ("x/same.wav", "y/same.wav", "talk.wav", "talk.flac", "Talk.ogg", "talk-2.wav"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    inputs = [str(tmp_path / name) for name in ("x/same.wav", "y/same.wav", "talk.wav", "talk.flac")]
    inputs += [str(tmp_path / "Talk.ogg"), str(tmp_path / "talk-2.wav")]
    first = _stems(inputs)
    assert [stem for _, stem in first] == ["same", "same-2", "talk", "talk-2", "Talk-3", "talk-2-2"]
    notes = capsys.readouterr().err.splitlines()
    assert f"note: {tmp_path / 'y' / 'same.wav'}: written as 'same-2' ('same' is " in notes[0]
    assert len(notes) == 4
    assert _stems(inputs) == first  # the same job names its outputs the same way again


def test_the_same_file_named_twice_is_one_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.wav").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    assert _stems(["a.wav", "./a.wav", str(tmp_path / "a.wav"), "*.wav"]) == [("a.wav", "a")]


def test_a_list_that_names_itself_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.txt").write_text(f"@{tmp_path / 'b.txt'}\n")
    (tmp_path / "b.txt").write_text(f"{tmp_path / 'x.wav'}\n@{tmp_path / 'a.txt'}\n")
    with pytest.raises(SpeechError, match="a.txt: list file names itself"):
        _stems([f"@{tmp_path / 'a.txt'}"])
    (tmp_path / "self.txt").write_text("@self.txt\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpeechError, match="^self.txt: list file names itself"):
        _stems(["@self.txt"])
    (tmp_path / "bytes.txt").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SpeechError, match="bytes.txt: list file is not UTF-8"):
        _stems([f"@{tmp_path / 'bytes.txt'}"])


def test_a_glob_matching_nothing_is_reported_as_a_missing_file(tmp_path: Path) -> None:
    assert _stems([str(tmp_path / "*.wav")]) == [(str(tmp_path / "*.wav"), "*")]
    (tmp_path / "take[1].wav").write_bytes(b"x")  # a name glob reads as a pattern
    assert _stems([str(tmp_path / "take[1].wav")]) == [(str(tmp_path / "take[1].wav"), "take[1]")]


def test_a_fifo_or_socket_in_a_folder_is_noted_not_skipped_silently(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    os.mkfifo(tmp_path / "pipe.wav")
    (tmp_path / "gone.wav").symlink_to(tmp_path / "missing.wav")
    (tmp_path / "a.wav").write_bytes(b"x")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "sock.wav"))
        assert _stems([str(tmp_path)]) == [(str(tmp_path / "a.wav"), "a")]
    notes = capsys.readouterr().err.splitlines()
    assert f"note: {tmp_path / 'pipe.wav'}: skipped, a FIFO (named pipe) and not a file" in notes
    assert f"note: {tmp_path / 'gone.wav'}: skipped, a broken link and not a file" in notes
    assert f"note: {tmp_path / 'sock.wav'}: skipped, a socket and not a file" in notes


def test_output_folder_must_not_be_a_file(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("mine\n")
    with pytest.raises(SpeechError, match="taken: -o must be a folder, and this is an existing file$"):
        output_folder(tmp_path / "taken")
    assert output_folder(tmp_path / "new") == tmp_path / "new"


def test_output_names_hold_for_any_file_name(tmp_path: Path) -> None:
    hypothesis = pytest.importorskip("hypothesis")
    strategies = pytest.importorskip("hypothesis.strategies")
    name = strategies.text(
        strategies.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)), min_size=1
    ).filter(lambda text: text not in (".", ".."))

    @hypothesis.given(strategies.lists(name, min_size=1, max_size=6))
    @hypothesis.settings(max_examples=300, deadline=None)
    def check(names: list[str]) -> None:
        claimed = OutputNames()
        stems = [claimed.claim(Path(n), Path(safe_stem(n))) for n in names]
        assert len({str(s).casefold() for s in stems}) == len(stems)  # one name each
        for stem in stems:
            assert _inside(tmp_path, stem) and len(stem.parts) == 1

    check()
