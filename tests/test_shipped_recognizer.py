"""The shipped recognizer (speech/assets/asr) on speech it never trained on, and on awkward input.

Held-out material only: flite's slt voice (held out of the synthetic training corpus) reading sentences that
are not in it, and the FSDD speaker the recipe holds out. The model card has the full held-out scores and the
targets; the thresholds here sit just under what the shipped (interim) model does, so they catch a broken or
swapped model and guard the job's handling of sample rates, channels, silence and hour-long files.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jiwer
import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio.functional as AF

from speech.assets import ASR_MODEL
from speech.audio import read_audio, write_audio
from speech.cli import main
from speech.ctc import GreedyDecoder, token_runs
from speech.data.corruption import tilt_spectrum
from speech.recognizer import Recognizer
from speech.text.normalize import normalize_text
from speech.word_timing import best_path

SENTENCES = [
    "The bakery on the corner opens at six every morning.",
    "A small green lizard was sleeping on the warm garden wall.",
    "Our train was delayed by twenty minutes because of the storm.",
]
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer.load()


@pytest.fixture(scope="module")
def slt(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """flite's slt voice (16 kHz) reading sentences the model never heard, in a voice it never heard."""
    if shutil.which("flite") is None:
        pytest.skip("flite is not installed (make setup installs it as root)")
    folder = tmp_path_factory.mktemp("slt")
    paths = []
    for index, sentence in enumerate(SENTENCES):
        path = folder / f"s{index}.wav"
        subprocess.run(["flite", "-voice", "slt", "-t", sentence, "-o", str(path)], check=True)
        paths.append(path)
    return paths


def cer(references: list[str], hypotheses: list[str]) -> float:
    return jiwer.cer([normalize_text(r) for r in references], hypotheses)


def test_the_model_ships_within_its_size_budget() -> None:
    files = {path.name: path.stat().st_size for path in ASR_MODEL.iterdir()}
    assert {"model.safetensors", "config.json", "lm.arpa", "decoder.json", "README.md"} <= set(files)
    assert sum(files.values()) <= 30 * 2**20


def test_held_out_voice_and_sentences(recognizer: Recognizer, slt: list[Path]) -> None:
    texts = [result.transcript.text for result in recognizer.transcribe(slt)]
    assert cer(SENTENCES, texts) <= 0.35, texts


def test_audio_in_memory_reads_like_its_file(recognizer: Recognizer, slt: list[Path]) -> None:
    """(samples, rate) pairs at any rate are resampled like files, and named by their position."""
    from_file = recognizer.transcribe_file(slt[1]).text
    as_read = read_audio(slt[1])
    resampled = read_audio(slt[1], 22050)
    results = list(recognizer.transcribe([slt[0], as_read, resampled]))
    assert [result.source for result in results[1:]] == ["<audio 1>", "<audio 2>"]
    assert results[2].duration == pytest.approx(len(resampled[0]) / 22050, abs=0.01)
    assert results[1].transcript.text == from_file
    assert jiwer.cer(from_file, results[2].transcript.text) <= 0.1


def test_sample_rates_and_channels_give_the_same_words(
    recognizer: Recognizer, slt: list[Path], tmp_path: Path
) -> None:
    """8 kHz mono, 48 kHz stereo FLAC and 44.1 kHz OGG of the same speech are all resampled and downmixed."""
    samples, rate = read_audio(slt[0])
    reference = recognizer.transcribe_file(slt[0]).text
    variants = {
        "8k.wav": (read_audio(slt[0], 8000)[0], 8000),
        "48k-stereo.flac": (np.stack([read_audio(slt[0], 48000)[0]] * 2, axis=1), 48000),
        "44k.ogg": (read_audio(slt[0], 44100)[0], 44100),
    }
    for name, (audio, variant_rate) in variants.items():
        sf.write(tmp_path / name, audio, variant_rate)
    assert sf.info(tmp_path / "48k-stereo.flac").channels == 2
    for name in ("48k-stereo.flac", "44k.ogg"):
        text = recognizer.transcribe_file(tmp_path / name).text
        assert jiwer.cer(reference, text) <= 0.1, (name, text, reference)
    narrowband = recognizer.transcribe_file(tmp_path / "8k.wav").text  # nothing above 4 kHz is left
    assert cer(SENTENCES[:1], [narrowband]) <= 0.6, narrowband


def test_silence_and_noise_give_no_words(recognizer: Recognizer, slt: list[Path], tmp_path: Path) -> None:
    """Digital silence, a quiet recording's noise floor and steady hiss are skipped (the model, which never
    heard noise alone, would spell words into hiss); speech in the same hiss is still transcribed, about as
    well as without it since the model trained with noise (CER about 0.08 here, 0.06 without hiss; 0.47 before
    noise was in its training data)."""
    rng = np.random.default_rng(0)
    write_audio(tmp_path / "silence.wav", np.zeros(16000 * 5, dtype=np.float32), 16000)
    write_audio(tmp_path / "floor.wav", rng.normal(0, 3e-4, 16000 * 5).astype(np.float32), 16000)  # -70 dB
    write_audio(tmp_path / "hiss.wav", rng.normal(0, 3e-3, 16000 * 5).astype(np.float32), 16000)  # -50 dB
    write_audio(tmp_path / "loud-hiss.wav", rng.normal(0, 3e-2, 16000 * 5).astype(np.float32), 16000)
    for name in ("silence.wav", "floor.wav", "hiss.wav", "loud-hiss.wav"):
        transcript = recognizer.transcribe_file(tmp_path / name)
        assert transcript.text == "" and transcript.segments == () and transcript.duration == 5.0, name
    speech = read_audio(slt[0], 16000)[0]
    write_audio(tmp_path / "speech-in-hiss.wav", speech + rng.normal(0, 3e-3, len(speech)), 16000)
    assert cer(SENTENCES[:1], [recognizer.transcribe_file(tmp_path / "speech-in-hiss.wav").text]) <= 0.3


def test_another_microphone(recognizer: Recognizer, slt: list[Path], tmp_path: Path) -> None:
    """The held-out sentences through a duller and a brighter channel (6 dB per octave either way about 1 kHz)
    are still transcribed: the model trained with random tilts (model card: before that, 43-70% CER)."""
    texts = []
    for db_per_octave in (-6.0, 6.0):
        for index, path in enumerate(slt):
            tilted = tmp_path / f"tilt{db_per_octave:+g}-{index}.wav"
            write_audio(tilted, tilt_spectrum(read_audio(path, 16000)[0], db_per_octave), 16000)
            texts.append(recognizer.transcribe_file(tilted).text)
    assert cer(SENTENCES * 2, texts) <= 0.25, texts  # about 0.14 (0.08 untilted)


def test_held_out_fsdd_speaker(recognizer: Recognizer, fsdd_dir: Path) -> None:
    """Real 8 kHz recordings of isolated digits by the speaker the recipe holds out (george)."""
    paths = sorted(fsdd_dir.glob("*_george_*.wav"))[::10]
    assert len(paths) >= 40
    results = list(recognizer.transcribe(paths))
    correct = sum(r.transcript.text == DIGITS[int(Path(r.source).name[0])] for r in results)
    assert correct / len(paths) >= 0.7, [(Path(r.source).name, r.transcript.text) for r in results]  # 0.82


def test_an_hour_long_recording(slt: list[Path], tmp_path: Path) -> None:
    """One hour of speech and pauses: cut at pauses into pieces, every timestamp inside the hour."""
    pause = np.zeros(16000, dtype=np.float32)
    clips = [np.concatenate([read_audio(path, 16000)[0], pause]) for path in slt]
    cycle = np.concatenate(clips)
    repeats = int(np.ceil(3600 * 16000 / len(cycle)))
    audio = np.tile(cycle, repeats)[: 3600 * 16000]
    sf.write(tmp_path / "hour.wav", audio, 16000, subtype="PCM_16")
    assert (
        main(["transcribe", str(tmp_path / "hour.wav"), "-o", str(tmp_path / "out"), "--format", "json"]) == 0
    )
    result = json.loads((tmp_path / "out" / "hour.json").read_text())
    segments = result["segments"]
    assert result["duration"] == pytest.approx(3600, abs=0.01)
    assert len(segments) >= 180 and all(s["end"] - s["start"] <= 20.01 for s in segments)
    assert all(a["end"] <= b["start"] + 1e-3 for a, b in zip(segments, segments[1:], strict=False))
    words = [w for s in segments for w in s["words"]]
    assert all(0 <= w["start"] <= w["end"] <= 3600 for w in words)
    assert len(words) >= 15 * repeats  # the three sentences have 32 words


def test_word_timing_shortcut_is_the_forced_alignment(recognizer: Recognizer, slt: list[Path]) -> None:
    """Greedy output is aligned by its own argmax path, without a search; on real posteriors that path is
    the one forced alignment finds, and text the argmax does not spell still gets forced alignment."""
    log_probs, lengths = recognizer.log_probs([read_audio(path, 16000)[0] for path in slt])
    vocab = recognizer.vocab
    for row, length in enumerate(lengths.tolist()):
        frames = log_probs[row, :length]
        text = GreedyDecoder(vocab).decode(frames[None], torch.tensor([length]))[0]
        targets = vocab.encode(text)
        shortcut, _ = best_path(frames.numpy(), text, vocab)
        searched, _ = AF.forced_align(
            frames[None], torch.tensor([targets], dtype=torch.int32), blank=vocab.blank
        )
        assert np.array_equal(shortcut, searched[0].numpy())
        other = "the " + text  # not what the argmax spells: searched, and still spelled
        tokens, _ = best_path(frames.numpy(), other, vocab)
        assert [span[0] for span in token_runs(tokens, np.ones(length), vocab.blank)] == vocab.encode(other)
