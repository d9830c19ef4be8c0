from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest

from speech.errors import SpeechError
from speech.transcript import (
    FORMATS,
    MAX_CUE_SECONDS,
    MAX_LINE_CHARS,
    Segment,
    Transcript,
    Word,
    outputs_exist,
    parse_formats,
    subtitle_cues,
    write_transcript,
)


def small() -> Transcript:
    """Two segments with word times (one past the hour, with milliseconds to round) and one without."""
    return Transcript(
        source="talk.wav",
        duration=3675.0,
        segments=(
            Segment(0.0, 1.5, "Hello world.", (Word("Hello", 0.0, 0.5, 0.9), Word("world.", 0.6, 1.5, 0.8))),
            Segment(
                3661.2345,
                3663.9996,
                " Over an  hour in.",
                (
                    Word(" Over", 3661.2345, 3661.6, 0.95),
                    Word(" an", 3661.7, 3661.9, 1.0),
                    Word(" hour", 3662.0, 3662.5, 0.5),
                    Word(" in.", 3662.6, 3663.9996, 0.0),
                ),
            ),
            Segment(3670.0, 3672.5, "No word times & <tags>"),
        ),
    )


def long_segment(count: int = 60) -> Segment:
    """A run of ``count`` words, 0.4 s apart, with a comma now and then."""
    vocabulary = ["recognition", "of", "speech", "works", "best", "when", "the", "microphone", "is", "close"]
    words = tuple(
        Word(
            vocabulary[i % len(vocabulary)] + ("," if i % 13 == 12 else ""), 10 + 0.4 * i, 10.3 + 0.4 * i, 0.9
        )
        for i in range(count)
    )
    return Segment(words[0].start, words[-1].end, " ".join(word.text for word in words), words)


def read(paths: list[Path], suffix: str) -> str:
    return next(path for path in paths if path.suffix == suffix).read_text(encoding="utf-8")


def test_text_and_words() -> None:
    transcript = small()
    assert transcript.text == "Hello world. Over an hour in. No word times & <tags>"
    assert [word.text.strip() for word in transcript.words] == [
        "Hello",
        "world.",
        "Over",
        "an",
        "hour",
        "in.",
    ]
    assert Transcript("x.wav", 0.0, ()).text == ""


def test_dict_and_json_round_trip(tmp_path: Path) -> None:
    transcript = small()
    assert Transcript.from_dict(transcript.to_dict()) == transcript
    paths = write_transcript(transcript, tmp_path / "talk", ["json"])
    assert paths == [tmp_path / "talk.json"]
    data = json.loads(paths[0].read_text(encoding="utf-8"))
    assert data["text"] == transcript.text
    assert Transcript.from_dict(data) == transcript
    assert hash(Transcript.from_dict(data)) == hash(transcript)


def test_json_words_have_whispers_keys_and_old_keys_still_read(tmp_path: Path) -> None:
    (path,) = write_transcript(small(), tmp_path / "talk", ["json"])
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["segments"][0]["words"][0] == {"word": "Hello", "start": 0.0, "end": 0.5, "probability": 0.9}
    word = small().words[0]
    assert (word.word, word.probability) == (word.text, word.confidence) == ("Hello", 0.9)
    # A transcript written before 0.2 named them text and confidence: it still reads, word for word.
    for segment in data["segments"]:
        segment["words"] = [
            {"text": w["word"], "start": w["start"], "end": w["end"], "confidence": w["probability"]}
            for w in segment["words"]
        ]
    assert Transcript.from_dict(data) == small()
    data["segments"][0]["words"][0] = {"start": 0.0, "end": 0.5, "probability": 0.9}
    with pytest.raises(SpeechError, match="segment 0 word 0: missing 'word'"):
        Transcript.from_dict(data)


def test_json_keeps_non_ascii_readable(tmp_path: Path) -> None:
    transcript = Transcript("été.wav", 1.0, (Segment(0.0, 1.0, "déjà vu", (Word("déjà", 0.0, 0.4, 1.0),)),))
    (path,) = write_transcript(transcript, tmp_path / "été", ["json"])
    text = path.read_text(encoding="utf-8")
    assert "déjà vu" in text and '\n  "source"' in text and text.endswith("}\n")
    assert Transcript.from_dict(json.loads(text)) == transcript


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "expected an object"),
        ({"duration": 1.0, "segments": []}, "missing 'source'"),
        ({"source": "a", "duration": "1", "segments": []}, "'duration' must be a finite number"),
        ({"source": "a", "duration": 1.0, "segments": {}}, "'segments' must be a list"),
        ({"source": "a", "duration": 1.0, "segments": [{"start": 0, "end": 1}]}, "segment 0: missing 'text'"),
        (
            {
                "source": "a",
                "duration": 1,
                "segments": [{"start": 0, "end": 1, "text": "x", "words": [{"text": "x"}]}],
            },
            "segment 0 word 0: missing 'start'",
        ),
    ],
)
def test_from_dict_rejects_malformed_data(data: object, message: str) -> None:
    with pytest.raises(SpeechError, match=message):
        Transcript.from_dict(data)  # type: ignore[arg-type]


def test_exact_outputs(tmp_path: Path) -> None:
    paths = write_transcript(small(), tmp_path / "talk", FORMATS)
    assert paths == [tmp_path / f"talk.{name}" for name in FORMATS]
    assert read(paths, ".txt") == "Hello world. Over an hour in. No word times & <tags>\n"
    assert read(paths, ".srt") == (
        "1\n00:00:00,000 --> 00:00:01,500\nHello world.\n"
        "\n"
        "2\n01:01:01,235 --> 01:01:04,000\nOver an hour in.\n"
        "\n"
        "3\n01:01:10,000 --> 01:01:12,500\nNo word times & <tags>\n"
    )
    assert read(paths, ".vtt") == (
        "WEBVTT\n"
        "\n"
        "00:00:00.000 --> 00:00:01.500\nHello world.\n"
        "\n"
        "01:01:01.235 --> 01:01:04.000\nOver an hour in.\n"
        "\n"
        "01:01:10.000 --> 01:01:12.500\nNo word times &amp; &lt;tags&gt;\n"
    )
    assert read(paths, ".tsv") == (
        "start\tend\ttext\n0\t1500\tHello world.\n3661235\t3664000\tOver an hour in.\n"
        "3670000\t3672500\tNo word times & <tags>\n"
    )


@pytest.mark.parametrize(
    ("seconds", "srt"),
    [
        (1.0005, "00:00:01,001"),  # half a millisecond rounds up, as written
        (1.0004999, "00:00:01,000"),
        (59.9996, "00:01:00,000"),  # rounding carries into the minutes
        (3599.9999, "01:00:00,000"),
        (36000.25, "10:00:00,250"),
        (-0.01, "00:00:00,000"),  # a slightly early first word never gives a negative time
    ],
)
def test_timestamp_rounding(tmp_path: Path, seconds: float, srt: str) -> None:
    transcript = Transcript("a.wav", 40000.0, (Segment(seconds, 40000.0, "x"),))
    paths = write_transcript(transcript, tmp_path / "a", ["srt", "vtt"])
    assert read(paths, ".srt").splitlines()[1] == f"{srt} --> 11:06:40,000"
    assert read(paths, ".vtt").splitlines()[2] == f"{srt.replace(',', '.')} --> 11:06:40.000"


def test_long_segment_is_split_into_readable_cues() -> None:
    segment = long_segment(60)
    cues = subtitle_cues(Transcript("a.wav", 40.0, (segment,)))
    assert len(cues) > 1
    for start, end, lines in cues:
        assert 1 <= len(lines) <= 2
        assert all(0 < len(line) <= MAX_LINE_CHARS for line in lines)
        assert end - start <= MAX_CUE_SECONDS
    # Every word appears once, in order, and the cues follow each other without overlapping.
    assert " ".join(line for _, _, lines in cues for line in lines) == segment.text
    assert all(a[1] <= b[0] for a, b in pairwise(cues))
    assert cues[0][0] == segment.start and cues[-1][1] == segment.end


def test_cues_prefer_clause_and_segment_boundaries() -> None:
    words = [
        Word(text, float(i), i + 0.5, 1.0) for i, text in enumerate(["one", "two,", "three", "four", "five"])
    ]
    first = Segment(0.0, 4.5, "one two, three four five", tuple(words))
    second = Segment(5.0, 5.5, "six", (Word("six", 5.0, 5.5, 1.0),))
    cues = subtitle_cues(Transcript("a.wav", 6.0, (first, second)))
    # 0.0 -> 4.5 fits in one cue, and the next segment starts a new one even though it would fit too.
    assert [lines for _, _, lines in cues] == [("one two, three four five",), ("six",)]
    # Ten words over 7.5 s must be split: the break goes after the comma rather than at the time limit.
    texts = ["alpha", "beta", "gamma", "delta", "epsilon,", "zeta", "eta", "theta", "iota", "kappa"]
    words = [Word(text, 0.75 * i, 0.75 * i + 0.5, 1.0) for i, text in enumerate(texts)]
    cues = subtitle_cues(Transcript("a.wav", 8.0, (Segment(0.0, 7.25, " ".join(texts), tuple(words)),)))
    assert [lines for _, _, lines in cues] == [
        ("alpha beta gamma delta epsilon,",),
        ("zeta eta theta iota kappa",),
    ]


def test_two_line_cues_are_balanced_and_oversized_words_stand_alone() -> None:
    texts = ["aaaaaaaaaa"] * 6  # 65 characters: two lines of 32
    words = tuple(Word(text, 0.1 * i, 0.1 * i + 0.1, 1.0) for i, text in enumerate(texts))
    ((_, _, lines),) = subtitle_cues(Transcript("a.wav", 1.0, (Segment(0.0, 0.6, " ".join(texts), words),)))
    assert lines == ("aaaaaaaaaa aaaaaaaaaa aaaaaaaaaa",) * 2
    giant = "x" * 50
    words = (Word("a", 0.0, 0.5, 1.0), Word(giant, 0.5, 9.0, 1.0), Word("b", 9.0, 9.5, 1.0))
    cues = subtitle_cues(Transcript("a.wav", 10.0, (Segment(0.0, 9.5, f"a {giant} b", words),)))
    assert [lines for _, _, lines in cues] == [("a",), (giant,), ("b",)]


def test_segment_without_words_is_one_wrapped_cue() -> None:
    text = " ".join(["word"] * 30)  # 149 characters
    ((start, end, lines),) = subtitle_cues(Transcript("a.wav", 9.0, (Segment(1.0, 9.0, text),)))
    assert (start, end) == (1.0, 9.0)
    assert all(len(line) <= MAX_LINE_CHARS for line in lines) and " ".join(lines) == text
    assert subtitle_cues(Transcript("a.wav", 9.0, (Segment(1.0, 9.0, "  "),))) == []


def test_empty_transcript(tmp_path: Path) -> None:
    transcript = Transcript("silence.wav", 3.0, ())
    paths = write_transcript(transcript, tmp_path / "silence", FORMATS)
    assert read(paths, ".txt") == "\n"
    assert read(paths, ".srt") == ""
    assert read(paths, ".vtt") == "WEBVTT\n"
    assert read(paths, ".tsv") == "start\tend\ttext\n"
    assert Transcript.from_dict(json.loads(read(paths, ".json"))) == transcript


def test_no_temporary_files_remain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_transcript(small(), tmp_path / "out" / "talk", FORMATS)
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == sorted(f"talk.{f}" for f in FORMATS)

    # A failure while rendering writes nothing at all ...
    from speech import transcript as module

    def broken(transcript: Transcript) -> str:
        raise ValueError("cannot render")

    monkeypatch.setitem(module.RENDERERS, "tsv", broken)
    with pytest.raises(ValueError, match="cannot render"):
        write_transcript(small(), tmp_path / "other" / "talk", ["txt", "tsv"])
    assert not (tmp_path / "other").exists()

    # ... and one while writing (a full disk) leaves neither a temporary file nor a half-written output.
    def full(descriptor: int) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr("speech.audio.os.fsync", full)
    with pytest.raises(OSError, match="No space left"):
        write_transcript(small(), tmp_path / "full" / "talk", ["txt"])
    assert list((tmp_path / "full").iterdir()) == []


def test_stem_with_dots_keeps_them(tmp_path: Path) -> None:
    paths = write_transcript(small(), tmp_path / "talk.part1", ["txt", "srt"])
    assert [path.name for path in paths] == ["talk.part1.txt", "talk.part1.srt"]


def test_outputs_exist(tmp_path: Path) -> None:
    stem = tmp_path / "talk"
    assert not outputs_exist(stem, ["txt", "srt"])
    write_transcript(small(), stem, ["txt"])
    assert outputs_exist(stem, ["txt"])
    assert not outputs_exist(stem, ["txt", "srt"])
    write_transcript(small(), stem, ["srt"])
    assert outputs_exist(stem, ["txt", "srt"])
    assert outputs_exist(stem, [])
    with pytest.raises(SpeechError, match="'doc'"):
        outputs_exist(stem, ["doc"])


def test_parse_formats() -> None:
    assert parse_formats("txt,json") == ["txt", "json"]
    assert parse_formats(" SRT , vtt,,srt ") == ["srt", "vtt"]
    assert parse_formats("all") == list(FORMATS)
    with pytest.raises(SpeechError, match="no transcript formats given"):
        parse_formats(" , ")
    with pytest.raises(SpeechError) as error:
        parse_formats("txt,docx,pdf")
    assert str(error.value) == (
        "unknown transcript formats 'docx', 'pdf': use txt, json, srt, vtt, tsv (comma-separated), or all"
    )
    assert "\n" not in str(error.value)
    assert parse_formats("srt,all") == list(FORMATS)  # all is every format, wherever it is named


def test_unknown_format_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(SpeechError, match="unknown transcript format 'docx'"):
        write_transcript(small(), tmp_path / "talk", ["txt", "docx"])
    assert list(tmp_path.iterdir()) == []
    # A single name given as a string is one format, not its letters.
    assert write_transcript(small(), tmp_path / "talk", "srt") == [tmp_path / "talk.srt"]  # type: ignore[arg-type]
