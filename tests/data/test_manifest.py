from __future__ import annotations

import re
from pathlib import Path

import pytest

from speech.data.manifest import ManifestError, Utterance, read_manifest, write_manifest


def test_round_trip_resolves_relative_paths(tmp_path: Path) -> None:
    utterances = [
        Utterance("a", str(tmp_path / "a.wav"), 1.5, "hello world", "s1"),
        Utterance("b", "audio/b.flac", 2.0, "naïve café", "s2", offset=3.25),
    ]
    assert write_manifest(tmp_path / "m.jsonl", utterances) == 2
    lines = (tmp_path / "m.jsonl").read_text(encoding="utf-8").splitlines()
    assert '"offset"' not in lines[0] and '"offset": 3.25' in lines[1] and "café" in lines[1]
    back = list(read_manifest(tmp_path / "m.jsonl"))
    assert back[0] == utterances[0]
    assert back[1].audio == str(tmp_path / "audio" / "b.flac") and back[1].offset == 3.25


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('["a"]', "JSON object"),
        ('{"id": "x", "audio": "y"}', "missing duration, text"),
        ('{"id": "x", "audio": "y", "duration": "long", "text": ""}', "'duration' must be a finite number"),
        ('{"id": "x", "audio": 123, "duration": 1, "text": ""}', "'audio' must be a string, got int"),
        ('{"id": "x", "audio": "", "duration": 1, "text": ""}', "'audio' must be a file path"),
        ('{"id": "x", "audio": "a\\u0000b", "duration": 1, "text": ""}', "'audio' must be a file path"),
        ('{"id": "x", "audio": "y", "duration": 1, "text": ["a"]}', "'text' must be a string, got list"),
        ('{"id": ["x"], "audio": "y", "duration": 1, "text": ""}', "'id' must be a string, got list"),
        (
            '{"id": "x", "audio": "y", "duration": 1, "text": "", "speaker": null}',
            "'speaker' must be a string",
        ),
        ('{"id": "x", "audio": "y", "duration": NaN, "text": ""}', "'duration' must be a finite number"),
        ('{"id": "x", "audio": "y", "duration": true, "text": ""}', "'duration' must be a finite number"),
        ('{"id": "x", "audio": "y", "duration": -1, "text": ""}', "'duration' must be at least 0"),
        ('{"id": "x", "audio": "y", "duration": 1, "text": "", "offset": -2}', "'offset' must be at least 0"),
        (
            '{"id": "x", "audio": "y", "duration": 1, "text": "", "offset": 1e999}',
            "'offset' must be a finite",
        ),
        (
            '{"id": "x", "audio": "y", "duration": 1, "text": "", "phonemes": "AB"}',
            "'phonemes' must be a list",
        ),
        (
            '{"id": "x", "audio": "y", "duration": 1, "text": "", "phonemes": ["A"], "durations": [1.5]}',
            "'durations' must hold only ints, got 1.5",
        ),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"id": "ok", "audio": "a.wav", "duration": 1, "text": "t"}\n\n' + line + "\n")
    with pytest.raises(ManifestError, match=rf"m.jsonl:3: .*{re.escape(problem)}") as caught:
        list(read_manifest(path))
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 200 + len(str(path))


def test_numeric_ids_and_speakers_read_as_their_digits(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"id": 7, "audio": "a.wav", "duration": 1, "text": "t", "speaker": 84, "offset": 2}\n')
    (utterance,) = read_manifest(path)
    assert utterance.id == "7" and utterance.speaker == "84" and utterance.offset == 2.0


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="manifest not found"):
        list(read_manifest(tmp_path / "none.jsonl"))


def test_relative_paths_survive_copying_between_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus").mkdir()
    write_manifest(tmp_path / "corpus" / "m.jsonl", [Utterance("a", "audio/a.wav", 1.0, "x")])
    merged = list(read_manifest("corpus/m.jsonl"))  # a relative manifest path, as recipes pass them
    write_manifest(tmp_path / "elsewhere" / "all.jsonl", merged)
    (again,) = read_manifest(tmp_path / "elsewhere" / "all.jsonl")
    assert again.audio == str(tmp_path / "corpus" / "audio" / "a.wav")
