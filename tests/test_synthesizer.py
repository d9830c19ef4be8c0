"""`speech synthesize` and speech.Synthesizer with an untrained tiny voice whose duration predictor is set to
six frames a token: the sound is noise, the lengths, messages, files and exit statuses are what is tested."""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from speech.cli import main
from speech.config import load_config
from speech.errors import SpeechError
from speech.synthesizer import (
    JOIN_LEAD_IN_S,
    PARAGRAPH_PAUSE_S,
    SENTENCE_PAUSE_S,
    Synthesizer,
    lead_phrase,
    text_chunks,
    unspeakable_characters,
)
from speech.tasks import TASKS
from speech.train.checkpoint import save_weights

TINY = Path(__file__).resolve().parents[1] / "conf" / "tts" / "tiny.yaml"
FRAMES = 6  # every token's predicted duration


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A voice folder as `speech train` exports it, untrained."""
    folder = tmp_path_factory.mktemp("voice")
    task = TASKS["tts"](load_config(TINY))
    torch.manual_seed(0)
    model = task.build_model()
    with torch.no_grad():
        model.duration_out.weight.zero_()
        model.duration_out.bias.fill_(math.log1p(FRAMES))
    save_weights(folder / "model.safetensors", model.state_dict())
    (folder / "config.json").write_text(json.dumps(task.export()))
    return folder


def frames(synthesizer: Synthesizer, sentence: str, rate: float) -> int:
    (tokens,) = synthesizer._sentences(sentence)
    return len(tokens) * max(1, round(FRAMES / rate))


def test_synthesize_joins_sentences_and_paragraphs_with_pauses(voice: Path) -> None:
    synthesizer = Synthesizer.load(voice, vocoder="griffin-lim")
    text = "Hello there. How are you?\n\nFine, thanks!"
    for rate in (1.0, 2.0, 0.5):
        samples, sample_rate = synthesizer.synthesize(text, rate=rate)
        speech = sum(frames(synthesizer, s, rate) for s in ("Hello there.", "How are you?", "Fine, thanks!"))
        pauses = int(SENTENCE_PAUSE_S * 16000) + int(PARAGRAPH_PAUSE_S * 16000)
        assert sample_rate == 16000 and len(samples) == speech * 160 + pauses
        assert samples.dtype == np.float32 and np.abs(samples).max() <= 1
    many = synthesizer.synthesize_many(["One.", "", "🙂", "Two words."])
    assert [s.error for s in many] == [None, "empty text", "nothing to say (no words in the text)", None]
    with pytest.raises(Exception, match="rate must be between"):
        synthesizer.synthesize("hi", rate=0)


def test_unspeakable_characters() -> None:
    assert unspeakable_characters("Café “quoted” — ok 😀 中文 😀") == ["😀", "中", "文"]
    assert unspeakable_characters("Plain $5, 10% & more!") == []


def run(args: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    status = main(["synthesize", *args])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_speech_synthesize_files(voice: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "story.txt").write_text("It was late. The rain had stopped.\n\nMorning came.\n")
    (tmp_path / "empty.txt").write_text("\n\n")
    (tmp_path / "latin1.txt").write_bytes("Café au lait.".encode("latin-1"))
    (tmp_path / "emoji.txt").write_text("Good 👍 news ✨.")
    out = tmp_path / "out"
    inputs = [
        str(tmp_path / name) for name in ("story.txt", "empty.txt", "latin1.txt", "emoji.txt", "nope.txt")
    ]
    status, output = run([*inputs, "-o", str(out), "--voice", str(voice)], capsys)
    assert status == 1
    assert sorted(p.name for p in out.iterdir()) == ["emoji.wav", "failures.txt", "story.wav"]
    failures = (out / "failures.txt").read_text().splitlines()
    assert failures == [
        f"{tmp_path / 'latin1.txt'}: not UTF-8 text (byte 0xe9 at offset 3); convert it, e.g. iconv -f latin1 -t utf-8",
        f"{tmp_path / 'nope.txt'}: file not found",
        f"{tmp_path / 'empty.txt'}: empty text",
    ]
    assert "skipped characters it cannot speak: '👍' (U+1F44D), '✨' (U+2728)" in output
    assert "Traceback" not in output
    info = sf.info(str(out / "story.wav"))
    assert info.samplerate == 16000 and info.frames > 0

    # resumable: done outputs are skipped, and --overwrite redoes them at another rate and format
    before = (out / "story.wav").stat().st_mtime_ns
    status, output = run([inputs[0], "-o", str(out), "--voice", str(voice)], capsys)
    assert status == 0 and "0 synthesized" in output and "1 already done" in output
    assert (out / "story.wav").stat().st_mtime_ns == before
    status, _ = run(
        [inputs[0], "-o", str(out), "--voice", str(voice), "--rate", "2", "--format", "flac"], capsys
    )
    assert status == 0 and sf.info(str(out / "story.flac")).frames < info.frames


def test_speech_synthesize_lines(voice: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = tmp_path / "prompts.txt"
    source.write_text("First prompt.\n\n🎉🎉\nThird, and last.\n")
    out = tmp_path / "corpus"
    status, output = run([str(source), "--lines", "-o", str(out), "--voice", str(voice)], capsys)
    assert status == 1  # the emoji-only line has nothing to say
    assert f"{source}:2: empty line, skipped" in output
    assert (out / "failures.txt").read_text() == f"{source}:3: nothing to say (no words in the text)\n"
    assert sorted(p.name for p in out.glob("*.wav")) == ["prompts_0001.wav", "prompts_0004.wav"]
    manifest = [json.loads(line) for line in (out / "prompts.jsonl").read_text().splitlines()]
    assert [(m["id"], m["audio"], m["text"]) for m in manifest] == [
        ("prompts_0001", "prompts_0001.wav", "First prompt."),
        ("prompts_0004", "prompts_0004.wav", "Third, and last."),
    ]
    status, output = run([str(source), "--lines", "-o", str(out), "--voice", str(voice)], capsys)
    assert "2 already done" in output


def test_speech_synthesize_stdin_and_bad_options(
    voice: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"Read from a pipe.")))
    status, _ = run(["-o", str(tmp_path), "--voice", str(voice)], capsys)
    assert status == 0 and (tmp_path / "stdin.wav").exists()
    status, output = run(["-o", str(tmp_path), "--voice", str(voice), "--rate", "0"], capsys)
    assert status == 1 and output.strip() == "error: --rate must be between 0.25 and 4.0, got 0.0"
    status, output = run(["-o", str(tmp_path), "--voice", str(tmp_path / "none")], capsys)
    assert status == 1 and "no voice here" in output and len(output.strip().splitlines()) == 1


def test_stream_says_the_text_sentence_by_sentence(voice: Path) -> None:
    synthesizer = Synthesizer.load(voice, vocoder="griffin-lim")
    text = "Hello there. How are you?\n\nFine, thanks!"
    chunks = list(synthesizer.stream(text))
    assert len(chunks) == 3
    np.testing.assert_array_equal(chunks[0], synthesizer.synthesize("Hello there.")[0])  # audio starts early
    whole, _ = synthesizer.synthesize(text)
    assert sum(map(len, chunks)) == len(whole)  # the same sentences and pauses
    slower = list(synthesizer.stream(text, sentence_silence=1.0))
    assert sum(map(len, slower)) == len(whole) - 4000 - 9600 + 2 * 16000  # 0.25 s and 0.6 s became 1 s
    longer = synthesizer.synthesize_many([text], sentence_silence=1.0)[0].samples
    assert len(longer) == sum(map(len, slower))
    for bad, message in [("", "empty text"), ("🙂 🙂", "nothing to say")]:
        with pytest.raises(SpeechError, match=message):
            list(synthesizer.stream(bad))
    with pytest.raises(SpeechError, match="sentence silence"):
        list(synthesizer.stream("Hi.", sentence_silence=-1))


@pytest.mark.parametrize(
    ("sentence", "lead"),
    [
        ("The birch canoe slid on the smooth planks.", "The birch canoe slid"),  # before a preposition
        ("My flight number is BA 247, leaving at 6:50 am.", "My flight number is BA 247,"),  # a clause mark
        ("A good skier leans forward and keeps her knees bent.", "A good skier leans forward"),
        ("I met Dr. Who and his friends at the gate.", "I met Dr. Who"),  # never after "Dr."
        ("He said -- quietly -- that the plan had failed.", "He said -- quietly"),
        ("The young man blushed to the roots of his hair.", "The young man blushed to the roots"),  # no mark
        ("It was late, and cold.", "It was late,"),
        ("Hello there, my friend.", ""),  # too short to cut: 3 + 2 words at the least
        ("Tell them about it.", ""),
    ],
)
def test_lead_phrase_cuts_a_first_sentence_at_a_clause_or_phrase(sentence: str, lead: str) -> None:
    assert sentence[: lead_phrase(sentence)] == lead


def test_stream_says_a_long_first_sentence_lead_first_and_joins_the_rest(voice: Path) -> None:
    synthesizer = Synthesizer.load(voice, vocoder="griffin-lim")
    chunks = list(synthesizer.stream("The birch canoe slid on the smooth planks. It sank."))
    assert len(chunks) == 3
    np.testing.assert_array_equal(chunks[0], synthesizer.synthesize("The birch canoe slid")[0])
    rest = synthesizer.synthesize("on the smooth planks.")[0]  # with no pause before it
    np.testing.assert_array_equal(chunks[1], synthesizer._without_lead_in(rest))
    pause = np.zeros(int(SENTENCE_PAUSE_S * 16000), np.float32)  # the next sentence as before
    np.testing.assert_array_equal(chunks[2], np.concatenate([pause, synthesizer.synthesize("It sank.")[0]]))


def test_the_rest_of_a_cut_sentence_loses_its_lead_in_silence(voice: Path) -> None:
    synthesizer = Synthesizer.load(voice, vocoder="griffin-lim")
    rate = synthesizer.sample_rate
    tone = 0.5 * np.sin(np.arange(rate // 2) * 0.1).astype(np.float32)
    quiet = np.full(int(0.3 * rate), 1e-4, np.float32)  # the model's lead-in: far below the speech
    joined = synthesizer._without_lead_in(np.concatenate([quiet, tone]))
    kept = round(JOIN_LEAD_IN_S * rate)
    assert len(joined) == kept + len(tone)
    assert joined[0] == 0 and np.all(np.abs(joined[:kept]) <= 1e-4)  # faded in: no click
    np.testing.assert_array_equal(joined[kept:], tone)
    for untouched in (tone, np.zeros(rate, np.float32), tone[:100]):  # nothing to trim
        np.testing.assert_array_equal(synthesizer._without_lead_in(untouched), untouched)


def test_text_chunks_cut_between_sentences_in_bounded_pieces() -> None:
    text = "Dr. Smith met J. R. R. Tolkien on St. Mark's day. It rained! Why? " + "word, " * 100 + "x" * 250
    pieces = list(text_chunks(text, 100))
    assert pieces[:2] == ["Dr. Smith met J. R. R. Tolkien on St. Mark's day.", "It rained! Why?"]
    assert all(len(piece) <= 101 for piece in pieces)
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")  # nothing lost or repeated
    assert list(text_chunks("")) == [] and list(text_chunks("No end")) == ["No end"]


def synthesize_to_stdout(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, stdin: bytes = b""
) -> tuple[int, bytes, str]:
    """`speech synthesize` with its standard output (binary audio) and stderr captured apart."""
    out = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(out))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    status = main(["synthesize", *args])
    return status, out.getvalue(), capsys.readouterr().err


def test_speech_synthesize_streams_wav_and_raw_to_standard_output(
    voice: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    synthesizer = Synthesizer.load(voice, vocoder="griffin-lim")
    text = b"It was late. The rain had stopped."
    expected = np.concatenate(list(synthesizer.stream(text.decode())))
    options = ["--voice", str(voice), "--vocoder", "griffin-lim"]
    status, audio, err = synthesize_to_stdout(["-", "-o", "-", *options], monkeypatch, capsys, text)
    assert status == 0 and "1 synthesized" in err
    assert audio[:4] == b"RIFF" and audio[8:16] == b"WAVEfmt " and audio[36:40] == b"data"
    channels, rate, _, _, bits = np.frombuffer(audio[22:36], "<u2")[[0, 1, 3, 4, 6]]  # (rate as two u16)
    assert channels == 1 and bits == 16 and rate == 16000
    pcm = np.frombuffer(audio[44:], "<i2")
    assert len(pcm) == len(expected)
    np.testing.assert_allclose(pcm / 32767, np.clip(expected, -1, 1), atol=1 / 32767)

    # Piper's habit: lines on stdin, raw PCM out, a sentence's silence between lines; a bad line goes by.
    lines = b"First line.\n\xff\xfe not text\nSecond line.\n"
    status, raw, err = synthesize_to_stdout(
        ["--lines", "--output-raw", "--sentence-silence", "0.5", *options], monkeypatch, capsys, lines
    )
    first, second = (synthesizer.synthesize(t)[0] for t in ("First line.", "Second line."))
    assert status == 1 and "standard input:2: line: not UTF-8 text" in err and "2 synthesized" in err
    assert len(raw) == 2 * (len(first) + 8000 + len(second))


def test_speech_synthesize_piper_flags_voices_and_long_text(
    voice: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = tmp_path / "story.txt"
    story.write_text("It was late. The rain had stopped. Morning came.")
    options = ["--voice", str(voice), "--vocoder", "griffin-lim", "--overwrite"]
    lengths = {}
    for name, flags in [("rate", ["--rate", "0.5"]), ("scale", ["--length-scale", "2"]), ("plain", [])]:
        assert run([str(story), "-o", str(tmp_path / name), *options, *flags], capsys)[0] == 0
        lengths[name] = sf.info(str(tmp_path / name / "story.wav")).frames
    assert lengths["rate"] == lengths["scale"] > lengths["plain"]
    status, output = run([str(story), "-o", str(tmp_path), "--rate", "2", "--length-scale", "2"], capsys)
    assert status == 1 and "not both" in output and len(output.strip().splitlines()) == 1

    status, output = run(["--list-voices"], capsys)
    assert status == 0 and output.startswith("joe (default)\t") and "\nslt\t" in output

    # A text longer than STREAM_CHARS is written into its file as it is made: the same audio.
    monkeypatch.setattr("speech.cli.synthesize.STREAM_CHARS", 20)
    assert run([str(story), "-o", str(tmp_path / "streamed"), *options], capsys)[0] == 0
    streamed, _ = sf.read(str(tmp_path / "streamed" / "story.wav"))
    plain, _ = sf.read(str(tmp_path / "plain" / "story.wav"))
    assert len(streamed) == len(plain)
    assert sorted(p.name for p in (tmp_path / "streamed").iterdir()) == ["story.wav"]  # no temporary left


def test_speech_synthesize_outputs_never_overwrite_each_other(
    voice: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "story.txt").write_text(f"The {folder} story.")
    (tmp_path / "..txt").write_text("Dots only.")
    out = tmp_path / "out"
    inputs = [str(tmp_path / "x" / "story.txt"), str(tmp_path / "y" / "story.txt"), str(tmp_path / "..txt")]
    status, output = run([*inputs, "-o", str(out), "--voice", str(voice), "--vocoder", "griffin-lim"], capsys)
    assert status == 0 and "written as 'story-2'" in output
    assert sorted(p.name for p in out.iterdir()) == ["__txt.wav", "story-2.wav", "story.wav"]
    (tmp_path / "file").write_text("")
    status, output = run([inputs[0], "-o", str(tmp_path / "file"), "--voice", str(voice)], capsys)
    assert status == 1 and "-o must be a folder" in output
