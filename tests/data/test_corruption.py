from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.signal

from speech.audio import read_audio
from speech.config import ConfigError, load_config
from speech.data.corruption import (
    CODECS,
    WaveformCorruption,
    babble,
    change_speed,
    clip,
    coloured_noise,
    lossy_codec,
    reverberate,
    room_impulse_response,
    shape_spectrum,
    telephone,
    tilt_spectrum,
)
from speech.errors import SpeechError
from speech.features import SpecAugmentConfig
from speech.tasks import TASKS

CONF = Path(__file__).resolve().parents[2] / "conf"


def corruption(**augment: float) -> WaveformCorruption:
    return WaveformCorruption(SpecAugmentConfig(**augment))


def band_power(noise: np.ndarray, low: int, high: int) -> float:
    return float(np.mean(np.abs(np.fft.rfft(noise))[low:high] ** 2))


def test_coloured_noise_has_unit_power_and_its_slope() -> None:
    rng = np.random.default_rng(0)
    white, brown = coloured_noise(16000, 0.0, rng), coloured_noise(16000, 2.0, rng)
    for noise in (white, brown):
        assert np.mean(noise**2) == pytest.approx(1.0, rel=1e-6)
    assert 0.8 < band_power(white, 100, 200) / band_power(white, 4000, 4100) < 1.25  # flat
    ratio = band_power(brown, 100, 200) / band_power(brown, 4000, 4100)  # 1/f**2: about (4050/150)**2
    assert 300 < ratio < 1500


def test_noise_is_added_at_the_drawn_snr_and_only_to_the_chosen_share(librivox_dir: Path) -> None:
    speech = [read_audio(path, 16000)[0] for path in sorted(librivox_dir.glob("*.wav"))]
    noisy = corruption(noise_prob=1.0, noise_snr_min=10.0, noise_snr_max=10.0)(
        speech, np.random.default_rng(0)
    )
    for clean, mixed in zip(speech, noisy, strict=True):
        noise = mixed.astype(np.float64) - clean
        assert 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(noise**2)) == pytest.approx(
            10.0, abs=0.1
        )
    untouched = corruption(noise_prob=0.0, noise_snr_min=10.0, noise_snr_max=10.0)(
        speech, np.random.default_rng(0)
    )
    assert all(a is b for a, b in zip(untouched, speech, strict=True))
    some = corruption(noise_prob=0.5, noise_snr_min=10.0, noise_snr_max=10.0)(
        speech * 20, np.random.default_rng(0)
    )
    assert 20 < sum(a is not b for a, b in zip(some, speech * 20, strict=True)) < 80


def gain_db(original: np.ndarray, changed: np.ndarray, hz: float, sample_rate: int = 16000) -> float:
    """The median gain, in dB, of the spectrum's bins within a sixth of an octave of ``hz``."""
    frequencies = np.fft.rfftfreq(len(original), 1 / sample_rate)
    band = (frequencies >= hz * 2 ** (-1 / 6)) & (frequencies < hz * 2 ** (1 / 6))
    ratio = np.abs(np.fft.rfft(changed.astype(np.float64))) / np.abs(np.fft.rfft(original.astype(np.float64)))
    return float(np.median(20 * np.log10(ratio[band])))


def test_tilt_slopes_real_speech_by_the_asked_db_per_octave_and_keeps_its_power(librivox_dir: Path) -> None:
    speech = read_audio(sorted(librivox_dir.glob("*.wav"))[0], 16000)[0][:48000]
    power = np.mean(speech.astype(np.float64) ** 2)
    for db_per_octave in (-6.0, 4.0):
        tilted = tilt_spectrum(speech, db_per_octave)
        assert np.mean(tilted.astype(np.float64) ** 2) == pytest.approx(power, rel=0.02)
        pivot = gain_db(speech, tilted, 1000)  # the power is kept, so the pivot moves by a constant
        for hz, octaves in ((250, -2), (500, -1), (2000, 1), (4000, 2)):
            relative = gain_db(speech, tilted, hz) - pivot
            assert relative == pytest.approx(db_per_octave * octaves, abs=0.5)
        flat_below_floor = gain_db(speech, tilted, 60) - gain_db(speech, tilted, 90)
        assert abs(flat_below_floor) < 0.5


def test_tilt_applies_to_the_chosen_share_before_noise() -> None:
    rng = np.random.default_rng(0)
    waveforms = [0.1 * coloured_noise(8000, 0.0, rng).astype(np.float32) for _ in range(40)]
    tilted = corruption(tilt_prob=0.5, tilt_max=6.0)(waveforms, np.random.default_rng(1))
    assert 10 < sum(a is not b for a, b in zip(tilted, waveforms, strict=True)) < 30
    assert all(len(a) == len(b) and a.dtype == np.float32 for a, b in zip(tilted, waveforms, strict=True))


def peak_hz(waveform: np.ndarray, sample_rate: int = 16000) -> float:
    spectrum = np.abs(np.fft.rfft(waveform * np.hanning(len(waveform))))
    return float(np.fft.rfftfreq(len(waveform), 1 / sample_rate)[np.argmax(spectrum)])


def test_speed_moves_every_frequency_and_the_duration_by_the_factor(librivox_dir: Path) -> None:
    tone = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000).astype(np.float32)
    for factor in (0.9, 1.1):
        changed = change_speed(tone, factor)
        assert len(changed) == pytest.approx(16000 / factor, abs=2)
        assert peak_hz(changed) == pytest.approx(1000 * factor, abs=2)
        assert changed.dtype == np.float32 and np.max(np.abs(changed)) <= 1.0
    # Real speech: its spectral centroid (formants and harmonics together) moves by the factor too.
    speech = read_audio(sorted(librivox_dir.glob("*.wav"))[0], 16000)[0][:48000]

    def centroid(waveform: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(waveform.astype(np.float64))) ** 2
        return float(np.sum(np.fft.rfftfreq(len(waveform), 1 / 16000) * spectrum) / np.sum(spectrum))

    assert centroid(change_speed(speech, 1.1)) / centroid(speech) == pytest.approx(1.1, abs=0.02)


def test_speed_applies_to_the_chosen_share_within_the_range() -> None:
    rng = np.random.default_rng(0)
    waveforms = [0.1 * coloured_noise(8000, 0.0, rng).astype(np.float32) for _ in range(40)]
    changed = corruption(speed_prob=0.5, speed_max=0.1)(waveforms, np.random.default_rng(1))
    lengths = [len(a) for a, b in zip(changed, waveforms, strict=True) if a is not b]
    assert 10 < len(lengths) < 30
    assert all(8000 / 1.1 - 2 <= length <= 8000 / 0.9 + 2 for length in lengths)
    assert len(set(lengths)) > 5  # drawn per utterance


def test_only_recognizers_take_corrupted_audio() -> None:
    config = load_config(CONF / "asr/tiny.yaml", ["augment.noise_prob=0.5", "augment.tilt_prob=0.5"])
    TASKS["asr"](config)
    for task in ("tts", "vocoder"):
        for key in (
            "noise_prob",
            "tilt_prob",
            "speed_prob",
            "reverb_prob",
            "babble_prob",
            "telephone_prob",
            "codec_prob",
        ):
            with pytest.raises(ConfigError, match="learns from clean audio"):
                TASKS[task](load_config(CONF / f"{task}/tiny.yaml", [f"augment.{key}=0.5"]))
    with pytest.raises(ConfigError, match="noise_prob must be in"):
        TASKS["asr"](load_config(CONF / "asr/tiny.yaml", ["augment.noise_prob=1.5"]))
    with pytest.raises(ConfigError, match="tilt_prob must be in"):
        TASKS["asr"](load_config(CONF / "asr/tiny.yaml", ["augment.tilt_max=-1"]))
    with pytest.raises(ConfigError, match="speed_prob must be in"):
        TASKS["asr"](load_config(CONF / "asr/tiny.yaml", ["augment.speed_max=0.5"]))
    with pytest.raises(ConfigError, match="reverb_prob must be in"):
        TASKS["asr"](load_config(CONF / "asr/tiny.yaml", ["augment.reverb_rt60_min=0"]))
    with pytest.raises(ConfigError, match="babble_prob must be in"):
        TASKS["asr"](load_config(CONF / "asr/tiny.yaml", ["augment.babble_talkers=0"]))
    with pytest.raises(ConfigError, match="clip_prob must be in"):
        TASKS["asr"](load_config(CONF / "asr/tiny.yaml", ["augment.clip_fraction_max=0.5"]))


def librivox_speech(librivox_dir: Path, count: int = 1, seconds: float = 3.0) -> list[np.ndarray]:
    paths = sorted(librivox_dir.glob("*.wav"))[:count]
    return [read_audio(path, 16000)[0][: int(seconds * 16000)] for path in paths]


def decay_time(response: np.ndarray, sample_rate: int = 16000) -> float:
    """Reverberation time from Schroeder's backward-integrated energy: the -5 to -25 dB slope (T20) x 3."""
    energy = np.cumsum(response[::-1] ** 2)[::-1]
    level = 10 * np.log10(energy / energy[0])
    return 3 * float(np.argmax(level < -25) - np.argmax(level < -5)) / sample_rate


@pytest.mark.parametrize(("rt60", "drr_db"), [(0.3, 0.0), (0.8, 10.0)])
def test_room_response_decays_in_the_drawn_time_at_the_drawn_ratio(rt60: float, drr_db: float) -> None:
    response = room_impulse_response(rt60, drr_db, np.random.default_rng(0))
    assert 10 * np.log10(response[0] ** 2 / np.sum(response[1:] ** 2)) == pytest.approx(drr_db, abs=0.01)
    tail = response[1:]
    low = shape_spectrum(tail, lambda fraction: (fraction < 0.2).astype(float))
    high = shape_spectrum(tail, lambda fraction: (fraction > 0.3).astype(float))
    assert decay_time(low) == pytest.approx(rt60, rel=0.15)
    assert decay_time(high) < 0.7 * decay_time(low)  # walls and air absorb high frequencies sooner


def test_reverberation_fills_the_gaps_of_real_speech_in_place(librivox_dir: Path) -> None:
    speech = librivox_speech(librivox_dir)[0]
    wet = reverberate(speech, room_impulse_response(0.8, 0.0, np.random.default_rng(0)))
    assert len(wet) == len(speech) and wet.dtype == np.float32
    assert np.mean(wet.astype(np.float64) ** 2) == pytest.approx(
        np.mean(speech.astype(np.float64) ** 2), rel=0.01
    )
    lags = scipy.signal.correlation_lags(len(wet), len(speech))
    assert lags[np.argmax(scipy.signal.correlate(wet, speech))] == 0  # the direct sound stays in place

    def quiet_frames(waveform: np.ndarray) -> int:
        energy = np.mean(waveform[: len(waveform) // 160 * 160].reshape(-1, 160).astype(np.float64) ** 2, 1)
        quiet = energy < energy.max() * 1e-3  # 30 dB below the loudest 10 ms
        return int(np.sum(quiet[np.argmin(quiet) :]))  # after speech starts: the gaps between words

    assert quiet_frames(wet) < 0.5 * quiet_frames(speech)


def tone(hz: float, seconds: float = 1.0, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * hz * np.arange(int(seconds * 16000)) / 16000)).astype(np.float32)


def level_db(waveform: np.ndarray, hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(waveform.astype(np.float64) * np.hanning(len(waveform))))
    return float(
        20 * np.log10(spectrum[np.argmin(np.abs(np.fft.rfftfreq(len(waveform), 1 / 16000) - hz))] + 1e-12)
    )


def test_babble_is_the_other_talkers_at_the_drawn_ratio(librivox_dir: Path) -> None:
    speech = 0.5 * librivox_speech(librivox_dir)[0] / np.max(np.abs(librivox_speech(librivox_dir)[0]))
    other = tone(440, seconds=0.7)  # shorter than the target: wrapped around
    mixed = babble(speech, [other], 10.0, np.random.default_rng(0))
    added = mixed.astype(np.float64) - speech
    assert 10 * np.log10(np.mean(speech.astype(np.float64) ** 2) / np.mean(added**2)) == pytest.approx(
        10.0, abs=0.1
    )
    assert level_db(added, 440) > level_db(added, 1000) + 40  # what was added is the other talker


def test_babble_draws_its_talkers_from_the_batch(librivox_dir: Path) -> None:
    speech = librivox_speech(librivox_dir, count=5)
    mixed = corruption(babble_prob=1.0, babble_talkers=2)(speech, np.random.default_rng(0))
    assert all(a is not b and len(a) == len(b) for a, b in zip(mixed, speech, strict=True))
    alone = corruption(babble_prob=1.0)(speech[:1], np.random.default_rng(0))
    assert alone[0] is speech[0]  # a batch of one has nobody to babble


def test_telephone_passes_the_voice_band_only_through_mulaw() -> None:
    mixture = (tone(150) + tone(1013) + tone(5000)) / 3
    line = telephone(mixture)
    assert len(line) == len(mixture) and line.dtype == np.float32
    assert level_db(line, 1013) - level_db(mixture, 1013) == pytest.approx(
        4.8, abs=1.5
    )  # power kept in one tone
    for hz in (150, 5000):
        assert level_db(line, hz) < level_db(line, 1013) - 50
    clean = tone(1013, amplitude=0.9)
    received = telephone(clean).astype(np.float64)
    error = received - clean * np.dot(received, clean) / np.dot(clean, clean)
    snr_db = 10 * np.log10(np.mean(received**2) / np.mean(error[200:-200] ** 2))
    assert 30 < snr_db < 45  # G.711's 8-bit companding: about 38 dB on a loud tone


def test_clipping_flattens_the_loudest_share_only(librivox_dir: Path) -> None:
    speech = librivox_speech(librivox_dir)[0]
    clipped = clip(speech, 0.01)
    level = np.max(np.abs(clipped))
    assert np.mean(np.abs(clipped) >= level) == pytest.approx(0.01, abs=0.002)
    below = np.abs(speech) < level
    assert np.array_equal(clipped[below], speech[below])


@pytest.mark.parametrize("codec", CODECS, ids=lambda codec: codec[1])
def test_a_lossy_codec_keeps_the_speech_in_place_and_loses_more_at_a_lower_bitrate(
    librivox_dir: Path, codec: tuple[str, str]
) -> None:
    speech = librivox_speech(librivox_dir)[0]

    def snr_db(decoded: np.ndarray) -> float:
        assert len(decoded) == len(speech) and decoded.dtype == np.float32
        return float(10 * np.log10(np.mean(speech**2) / np.mean((decoded - speech) ** 2)))

    smaller, larger = (snr_db(lossy_codec(speech, codec, level)) for level in (0.99, 0.6))
    # Aligned sample for sample (an encoder delay left in would make the error as loud as the speech) ...
    assert 5 < smaller < larger
    # ... and lossy: these bitrates leave audible error (here 8-25 dB below the speech).
    assert larger < 35


def test_a_libsndfile_without_the_codecs_is_refused_before_training(monkeypatch: pytest.MonkeyPatch) -> None:
    import soundfile

    monkeypatch.setattr(soundfile, "check_format", lambda container, subtype: subtype != "OPUS")
    corruption(noise_prob=0.5)  # codecs not asked for: not checked
    with pytest.raises(SpeechError, match="cannot write OPUS"):
        corruption(codec_prob=0.1)


@pytest.mark.parametrize("key", ["reverb_prob", "babble_prob", "telephone_prob", "clip_prob", "codec_prob"])
def test_each_new_corruption_applies_to_the_chosen_share(key: str) -> None:
    rng = np.random.default_rng(0)
    waveforms = [0.1 * coloured_noise(8000, 0.0, rng).astype(np.float32) for _ in range(40)]
    changed = corruption(**{key: 0.5})(waveforms, np.random.default_rng(1))
    assert 10 < sum(a is not b for a, b in zip(changed, waveforms, strict=True)) < 30
    assert all(len(a) == len(b) and a.dtype == np.float32 for a, b in zip(changed, waveforms, strict=True))
