"""The shipped voice (speech/assets/voice) on text it never saw, heard back by the shipped recognizer.

The sentences below are not in the voice's training text. The recognizer's scores on flite slt saying the
same sentences (the voice's own source) are the reference: tools/bench_tts.py measures the round trip on
100 held-out sentences and the model card has the figures; the thresholds here sit just under what the
shipped voice does, so they catch a broken or swapped voice.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jiwer
import numpy as np
import pytest

from speech.assets import TTS_VOICE
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


@pytest.fixture(scope="module")
def voice() -> Synthesizer:
    return Synthesizer.load()


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer.load(beam=32)


def heard(recognizer: Recognizer, audio: list[tuple[np.ndarray, int]]) -> list[str]:
    return [result.transcript.text for result in recognizer.transcribe(audio)]


def cer(texts: list[str], hypotheses: list[str]) -> float:
    return jiwer.cer([normalize_text(text) for text in texts], hypotheses)


def test_the_voice_ships_with_its_card() -> None:
    files = {path.name: path.stat().st_size for path in TTS_VOICE.iterdir()}
    assert {"model.safetensors", "config.json", "README.md"} <= set(files)
    assert sum(files.values()) <= 30 * 2**20
    assert json.loads((TTS_VOICE / "config.json").read_text())["task"] == "tts"


def test_new_sentences_are_understood_about_as_well_as_the_reference(
    voice: Synthesizer, recognizer: Recognizer, tmp_path: Path
) -> None:
    if shutil.which("flite") is None:
        pytest.skip("flite is not installed (make setup installs it as root)")
    spoken = [(spoken.samples, voice.sample_rate) for spoken in voice.synthesize_many(SENTENCES)]
    reference = []
    for index, sentence in enumerate(SENTENCES):
        path = tmp_path / f"flite{index}.wav"
        subprocess.run(["flite", "-voice", "slt", "-t", sentence, "-o", str(path)], check=True)
        reference.append(read_audio(path))
    ours, theirs = cer(SENTENCES, heard(recognizer, spoken)), cer(SENTENCES, heard(recognizer, reference))
    assert ours <= max(0.25, 1.5 * theirs), (ours, theirs)


def test_a_long_paragraph_is_spoken_whole(voice: Synthesizer, recognizer: Recognizer) -> None:
    """Nothing skipped, repeated or left running: the length follows the text and the words come back."""
    samples, rate = voice.synthesize(PARAGRAPH)
    words = normalize_text(PARAGRAPH).split()
    seconds = len(samples) / rate
    assert 0.25 * len(words) <= seconds <= 0.45 * len(words), seconds  # this voice: 0.31 s per word
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
