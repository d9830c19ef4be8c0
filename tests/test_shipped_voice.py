"""The shipped voices (speech/assets: joe, the default, and slt) on text they never saw, heard back by the
shipped recognizer.

The sentences below are not in the voices' training text. The recognizer's scores on each voice's own source
(Piper joe, flite slt) saying the same sentences are the reference: tools/bench_tts.py measures the round trip
on held-out sentences and the model cards have the figures; the thresholds here sit just under what the
shipped voices do, so they catch a broken or swapped voice.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jiwer
import numpy as np
import pytest

from speech.assets import TTS_VOICE, VOICES
from speech.audio import read_audio
from speech.cli import main
from speech.recognizer import Recognizer
from speech.synthesizer import Synthesizer
from speech.text.normalize import normalize_text

SENTENCES = [
    "The bakery on the corner opens at six every morning.",
    "A small green lizard was sleeping on the warm garden wall.",
    "Our train was delayed by twenty minutes because of the storm.",
    "She wrote the letter slowly and sealed it without reading it again.",
]
PARAGRAPH = (
    "The old lighthouse keeper climbed the stairs every evening to light the lamp. He counted the steps as "
    "he went, one hundred and twelve of them, and stopped twice to catch his breath. From the top he could "
    "see the harbour, the fishing boats coming home, and the long road that wound back toward the village. "
    "When the fog rolled in, he rang the bell until morning."
)


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import synthvoices  # noqa: E402

SECONDS_PER_WORD = {"joe": (0.23, 0.42), "slt": (0.25, 0.45)}  # measured: joe 0.29 s, slt 0.31 s


@pytest.fixture(scope="module", params=list(VOICES))
def name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def voice(name: str) -> Synthesizer:
    return Synthesizer.load(VOICES[name])


def source_voice(name: str, sentence: str, path: Path) -> tuple[np.ndarray, int]:
    """The voice's own source saying ``sentence``: the engine the voice learned from."""
    engine = {"joe": "piper:joe", "slt": "flite:slt"}[name]
    if engine not in {voice.id for voice in synthvoices.list_voices()}:
        pytest.skip(f"{engine} is not installed (make setup installs it)")
    synthvoices.synthesize(synthvoices.Voice(engine, *engine.split(":"), ""), sentence, path=path)
    return read_audio(path)


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer.load(beam=32)


def heard(recognizer: Recognizer, audio: list[tuple[np.ndarray, int]]) -> list[str]:
    return [result.transcript.text for result in recognizer.transcribe(audio)]


def cer(texts: list[str], hypotheses: list[str]) -> float:
    return jiwer.cer([normalize_text(text) for text in texts], hypotheses)


def test_the_voices_ship_with_their_cards(name: str) -> None:
    files = {path.name: path.stat().st_size for path in VOICES[name].iterdir()}
    assert {"model.safetensors", "config.json", "README.md"} <= set(files)
    assert sum(files.values()) <= 30 * 2**20
    assert json.loads((VOICES[name] / "config.json").read_text())["task"] == "tts"
    assert next(iter(VOICES)) == "joe" and VOICES["joe"] == TTS_VOICE  # the default


def test_new_sentences_are_understood_about_as_well_as_the_reference(
    name: str, voice: Synthesizer, recognizer: Recognizer, tmp_path: Path
) -> None:
    spoken = [(spoken.samples, voice.sample_rate) for spoken in voice.synthesize_many(SENTENCES)]
    reference = [
        source_voice(name, sentence, tmp_path / f"{name}{index}.wav")
        for index, sentence in enumerate(SENTENCES)
    ]
    ours, theirs = cer(SENTENCES, heard(recognizer, spoken)), cer(SENTENCES, heard(recognizer, reference))
    assert ours <= max(0.25, 1.5 * theirs), (ours, theirs)


def test_a_long_paragraph_is_spoken_whole(name: str, voice: Synthesizer, recognizer: Recognizer) -> None:
    """Nothing skipped, repeated or left running: the length follows the text and the words come back."""
    samples, rate = voice.synthesize(PARAGRAPH)
    words = normalize_text(PARAGRAPH).split()
    seconds = len(samples) / rate
    low, high = SECONDS_PER_WORD[name]
    assert low * len(words) <= seconds <= high * len(words), seconds
    (text,) = heard(recognizer, [(samples, rate)])
    assert 0.8 * len(words) <= len(text.split()) <= 1.2 * len(words), text
    assert jiwer.wer(" ".join(words), text) <= 0.5, text


def test_speaking_rate_scales_the_length(voice: Synthesizer) -> None:
    normal = len(voice.synthesize(SENTENCES[0])[0])
    fast, slow = (
        len(voice.synthesize(SENTENCES[0], rate=2.0)[0]),
        len(voice.synthesize(SENTENCES[0], rate=0.5)[0]),
    )
    assert 0.4 * normal <= fast <= 0.65 * normal and 1.7 * normal <= slow <= 2.3 * normal


def test_speech_synthesize_then_transcribe(tmp_path: Path) -> None:
    """The demo's round trip through both commands, with the defaults: shipped voice, shipped recognizer."""
    story = tmp_path / "story.txt"
    story.write_text("Dr. Smith paid $4.50 for bread on Jan. 5th.\n\nIt was cold, about 28 degrees. 🙂\n")
    assert main(["synthesize", str(story), "-o", str(tmp_path / "spoken")]) == 0
    assert main(["transcribe", str(tmp_path / "spoken" / "story.wav"), "-o", str(tmp_path / "heard")]) == 0
    text = (tmp_path / "heard" / "story.txt").read_text().strip()
    said = normalize_text(story.read_text())
    assert jiwer.cer(said, text) <= 0.6, (said, text)
