"""YIN pitch estimates (speech.pitch): the targets of the LPC vocoder's F0 head."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speech.audio import read_audio
from speech.pitch import PitchTracks, estimate_pitch, lag_range, track_pitch


def pulse_train(f0: float, seconds: float = 1.0, rate: int = 16000) -> np.ndarray:
    """A glottal-like source: one decaying resonance per period, so the waveform repeats every 1 / f0."""
    t = np.arange(int(seconds * rate)) / rate
    phase = (t * f0) % 1.0
    return (0.5 * np.exp(-phase * 8) * np.sin(2 * np.pi * 700 * phase / f0)).astype(np.float32)


@pytest.mark.parametrize("f0", [85.0, 123.4, 210.0, 330.0])
def test_periodic_signals_give_their_period(f0: float) -> None:
    pitch = estimate_pitch(pulse_train(f0), np.arange(10, 90) * 160, 16000)
    assert pitch.voiced.all()
    np.testing.assert_allclose(pitch.f0, f0, rtol=0.005)


def test_silence_and_noise_are_unvoiced() -> None:
    centres = np.arange(5, 95) * 160
    assert not estimate_pitch(np.zeros(16000), centres, 16000).voiced.any()
    noise = np.random.default_rng(0).standard_normal(16000) * 0.1
    assert estimate_pitch(noise, centres, 16000).voiced.mean() < 0.05


def test_real_speech_agrees_with_world_harvest(librivox_dir: Path) -> None:
    pyworld = pytest.importorskip("pyworld")
    for path in sorted(librivox_dir.glob("*.wav"))[:2]:
        audio = read_audio(path, 16000)[0].astype(np.float64)
        frames = len(audio) // 160
        ours = estimate_pitch(audio, np.arange(frames) * 160, 16000)
        harvest, _ = pyworld.harvest(audio, 16000, f0_floor=60.0, f0_ceil=500.0, frame_period=10.0)
        count = min(frames, len(harvest))
        both = ours.voiced[:count] & (harvest[:count] > 0)
        assert both.mean() > 0.25  # read speech is voiced about half the time; YIN is the stricter
        error = np.abs(np.log2(ours.f0[:count][both] / harvest[:count][both]))
        assert np.mean(error > np.log2(1.2)) < 0.02  # gross pitch errors
        assert np.median(error) * 1200 < 20  # cents


def test_batches_of_waveforms_and_the_lag_range() -> None:
    waves = np.stack([pulse_train(100.0), pulse_train(200.0)])
    centres = np.array([[1600, 3200], [4800, 6400]])
    pitch = estimate_pitch(waves, centres, 16000)
    assert pitch.f0.shape == (2, 2)
    np.testing.assert_allclose(pitch.f0, [[100, 100], [200, 200]], rtol=0.005)
    assert lag_range(16000) == (32, 267)


@pytest.mark.parametrize("f0", [85.0, 210.0])
def test_pyin_tracks_periodic_signals_at_mid_frame(f0: float) -> None:
    pitch = track_pitch(pulse_train(f0), 16000, 160, 100)
    assert pitch.period.shape == pitch.voiced.shape == (100,)
    assert pitch.voiced[5:95].all()
    np.testing.assert_allclose(pitch.f0[5:95], f0, rtol=0.01)


def test_pyin_on_real_speech_agrees_with_yin_and_fills_unvoiced_frames(librivox_dir: Path) -> None:
    audio = read_audio(sorted(librivox_dir.glob("*.wav"))[0], 16000)[0]
    frames = len(audio) // 160
    tracked = track_pitch(audio, 16000, 160, frames)
    yin = estimate_pitch(audio, np.arange(frames) * 160 + 80, 16000)
    assert 0.3 < tracked.voiced.mean() < 0.8
    both = tracked.voiced & yin.voiced
    assert np.mean(np.abs(np.log2(tracked.f0[both] / yin.f0[both])) > np.log2(1.2)) < 0.05
    # Unvoiced frames carry a usable lag: finite, inside the searched range.
    shortest, longest = lag_range(16000)
    assert np.isfinite(tracked.period).all()
    assert (tracked.period >= shortest - 1).all() and (tracked.period <= longest + 1).all()


@pytest.mark.parametrize("step", [7200, 8000])
def test_pyin_frames_are_measured_at_mid_frame(step: int) -> None:
    """A pitch step at sample ``step``: pYIN leaves the frames whose window straddles it unvoiced, and that
    gap is centred on the step when frame f stands for sample f * 160 + 80 (the middle of the samples the
    vocoder makes for it); either side, each pitch is found."""
    audio = np.concatenate([pulse_train(100.0, 1.0)[:step], pulse_train(200.0, 1.0)[: 16000 - step]])
    pitch = track_pitch(audio, 16000, 160, 100)
    gap = np.flatnonzero(~pitch.voiced[30:70]) + 30
    assert np.mean(gap) == pytest.approx((step - 80) / 160, abs=0.25)
    np.testing.assert_allclose(pitch.f0[gap.min() - 10 : gap.min()], 100, rtol=0.02)
    np.testing.assert_allclose(pitch.f0[gap.max() + 1 : gap.max() + 11], 200, rtol=0.02)


def store(path: Path, hop: int = 160, **tracks: tuple[list[float], list[bool]]) -> Path:
    arrays = {"hop": np.array(hop), "sample_rate": np.array(16000)}
    for key, (period, voiced) in tracks.items():
        arrays[f"{key}.period"], arrays[f"{key}.voiced"] = np.array(period), np.array(voiced)
    np.savez(path, **arrays)
    return path


def test_stored_tracks_are_looked_up_by_id_and_frame(tmp_path: Path) -> None:
    tracks = PitchTracks(
        store(tmp_path / "p.npz", a=([100.0, 110.0, 120.0], [True, False, True])), 160, 16000
    )
    pitch = tracks.frames(["a", "a"], [3, 3], np.array([[0, 2], [2, 7]]))
    np.testing.assert_array_equal(pitch.period, [[100, 120], [120, 120]])  # past the end: the last frame
    np.testing.assert_array_equal(pitch.voiced, [[True, True], [True, True]])


def test_stored_tracks_that_do_not_fit_are_refused_in_one_line(tmp_path: Path) -> None:
    good = store(tmp_path / "good.npz", a=([100.0, 110.0], [True, True]))
    with pytest.raises(ValueError, match="no pitch track for 'b'"):
        PitchTracks(good, 160, 16000).frames(["b"], [2], np.array([[0]]))
    with pytest.raises(ValueError, match="has 2 frames, its audio 5"):
        PitchTracks(good, 160, 16000).frames(["a"], [5], np.array([[0]]))
    with pytest.raises(ValueError, match="hop 80"):
        PitchTracks(store(tmp_path / "hop.npz", hop=80), 160, 16000)
    np.savez(tmp_path / "half.npz", hop=160, sample_rate=16000, **{"a.period": np.ones(3)})
    with pytest.raises(ValueError, match="'a' lacks"):
        PitchTracks(tmp_path / "half.npz", 160, 16000)
    (tmp_path / "junk.npz").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match="junk.npz: not a pitch-track file"):
        PitchTracks(tmp_path / "junk.npz", 160, 16000)
