from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from speech.audio import read_audio
from speech.segment import is_silent, split_at_pauses
from speech.text.vocab import CharVocab
from speech.word_timing import align_words


def test_long_audio_is_cut_in_the_pauses(librivox_dir: Path) -> None:
    clips = [read_audio(path, 16000)[0] for path in sorted(librivox_dir.glob("*.wav"))]
    gap = np.zeros(8000, np.float32)  # half a second of silence between clips
    joined = np.concatenate([part for clip in clips for part in (clip, gap)])
    boundaries = np.cumsum([len(clip) + len(gap) for clip in clips])
    pieces = split_at_pauses(joined, 16000, max_seconds=10.0, search_seconds=5.0)
    assert pieces[0][0] == 0 and pieces[-1][1] == len(joined)
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:], strict=False))  # contiguous, nothing lost
    assert all(end - start <= 10 * 16000 for start, end in pieces)
    for _, cut in pieces[:-1]:  # every cut lands in a silent gap (or a quiet stretch inside a clip)
        assert (
            np.abs(joined[cut - 800 : cut + 800]).max() < 0.05 or min(abs(cut - b) for b in boundaries) < 8000
        )
    assert split_at_pauses(joined[:16000], 16000, max_seconds=10.0) == [(0, 16000)]


def test_silence_and_steady_noise_hold_no_speech(librivox_dir: Path) -> None:
    rng = np.random.default_rng(0)
    assert is_silent(np.zeros(0, np.float32), 16000) and is_silent(np.zeros(16000, np.float32), 16000)
    for level in (3e-4, 3e-3, 3e-2, 0.3):  # white noise from a quiet room's floor to loud hiss
        assert is_silent(rng.normal(0, level, 16000 * 3).astype(np.float32), 16000), level
    speech = read_audio(sorted(librivox_dir.glob("*.wav"))[0], 16000)[0]
    assert not is_silent(speech, 16000)
    assert not is_silent(speech + rng.normal(0, 0.03, len(speech)).astype(np.float32), 16000)  # noisy speech
    loudest = int(np.argmax(np.abs(speech)))
    assert not is_silent(speech[loudest - 4000 : loudest + 4000], 16000)  # half a second inside a word


def test_word_times_and_confidence_from_posteriors() -> None:
    vocab = CharVocab.english()
    # 10 frames: blank, h, i, blank, " ", y, y, o, blank, blank  (spells "hi yo")
    path = ["<blank>", "h", "i", "<blank>", " ", "y", "y", "o", "<blank>", "<blank>"]
    log_probs = torch.full((len(path), len(vocab)), -8.0)
    for frame, token in enumerate(path):
        log_probs[frame, vocab.tokens.index(token)] = -0.05
    log_probs = log_probs.log_softmax(-1)
    words = align_words(log_probs, "hi yo", vocab, seconds_per_frame=0.03, offset=1.0)
    assert [w.text for w in words] == ["hi", "yo"]
    assert words[0].start == 1.03 and words[0].end == 1.09
    assert words[1].start == 1.15 and words[1].end == 1.24
    assert all(0.9 < w.confidence <= 1.0 for w in words)
    assert align_words(log_probs, "", vocab, 0.03) == []
