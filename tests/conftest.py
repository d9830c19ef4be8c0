"""Shared fixtures: real speech made by espeak-ng, Debian's real read speech, and the FSDD recordings."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SPEECH_SHARED", REPO.parent / "shared"))
FSDD = SHARED / "data" / "fsdd"
POCKETSPHINX_DATA = Path("/usr/share/pocketsphinx/test/data")

os.environ.setdefault("WANDB_MODE", "disabled")  # tests never talk to W&B; test_tracking opts in to offline


def espeak(text: str, path: Path, voice: str = "en-us") -> Path:
    """Synthesise ``text`` to a 22.05 kHz 16-bit WAV with espeak-ng (skips the test if it is missing)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make setup installs it as root)")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True, capture_output=True)
    return path


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About two seconds of synthetic English speech."""
    return espeak(
        "the quick brown fox jumps over the lazy dog", tmp_path_factory.mktemp("speech") / "fox.wav"
    )


@pytest.fixture(scope="session")
def librivox_dir() -> Path:
    """Five real read-speech clips (16 kHz) with transcripts, from Debian's pocketsphinx-testdata."""
    folder = POCKETSPHINX_DATA / "librivox"
    if not folder.is_dir():
        pytest.skip("Debian package pocketsphinx-testdata is not installed")
    return folder


@pytest.fixture(scope="session")
def aligned_librivox(librivox_dir: Path) -> list:
    """The five librivox clips as aligned utterances (phonemes from the phonemiser, even durations): what
    tools that read an alignment need, not a good alignment."""
    import dataclasses

    from speech.data.importers import import_sphinx
    from speech.text.phonemes import Phonemizer, synthesis_tokens

    utterances = []
    for utterance in import_sphinx(librivox_dir).utterances:
        phonemes = tuple(synthesis_tokens(Phonemizer().phonemize(utterance.text)))
        frames = int(utterance.duration * 100) + 1
        durations = (frames // len(phonemes),) * len(phonemes)
        utterances.append(dataclasses.replace(utterance, phonemes=phonemes, durations=durations))
    return utterances


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory, librivox_dir: Path) -> Path:
    """Fifteen real recordings of 3-7 s: the five librivox clips three times over, under new names (batch
    jobs that are split, killed and resumed need more files than the clips)."""
    folder = tmp_path_factory.mktemp("recordings")
    for index, clip in enumerate(sorted(librivox_dir.glob("*.wav")) * 3):
        shutil.copy(clip, folder / f"{index:02d}-{clip.name}")
    return folder


@pytest.fixture(scope="session")
def fsdd_dir() -> Path:
    """The Free Spoken Digit Dataset recordings (8 kHz), from ../shared beside the checkout."""
    recordings = FSDD / "recordings"
    if not recordings.is_dir():
        pytest.skip(f"FSDD recordings not found at {recordings} (set SPEECH_SHARED)")
    return recordings


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """PyTorch on one thread for a module's tests: tiny models and step-by-step loops only lose time to
    intra-op threads (and far more on a busy 2-core machine). Use: pytestmark = usefixtures(...)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
