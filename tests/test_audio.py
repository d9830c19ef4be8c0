from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speech.audio import (
    AudioError,
    OutputError,
    atomic_output,
    audio_info,
    decode_audio,
    read_audio,
    resample,
    write_audio,
)
from speech.errors import SpeechError


def test_reads_synthetic_speech_and_resamples(speech_wav: Path) -> None:
    native, rate = read_audio(speech_wav)
    assert rate == 22050 and native.dtype == np.float32 and native.ndim == 1
    assert 0.05 < np.abs(native).max() <= 1.0
    samples, rate = read_audio(speech_wav, sample_rate=16000)
    assert rate == 16000
    assert abs(len(samples) - len(native) * 16000 / 22050) <= 2
    assert audio_info(speech_wav).duration == pytest.approx(len(native) / 22050)


def test_reads_real_speech(librivox_dir: Path) -> None:
    samples, rate = read_audio(librivox_dir / "sense_and_sensibility_01_austen_64kb-0880.wav")
    assert rate == 16000
    assert 1.0 < len(samples) / rate < 10.0
    assert samples.std() > 0.01


def test_upsamples_8khz_recordings(fsdd_dir: Path) -> None:
    path = next(fsdd_dir.glob("7_*_0.wav"))
    native, native_rate = read_audio(path)
    samples, rate = read_audio(path, sample_rate=16000)
    assert native_rate == 8000 and rate == 16000
    assert abs(len(samples) - 2 * len(native)) <= 2
    # Resampling keeps the content: energy per second is nearly unchanged.
    assert np.mean(samples**2) == pytest.approx(np.mean(native**2), rel=0.1)


@pytest.mark.parametrize(
    ("suffix", "format", "subtype"),
    [
        (".wav", "WAV", "PCM_16"),
        (".wav", "WAV", "PCM_24"),
        (".wav", "WAV", "FLOAT"),
        (".flac", "FLAC", "PCM_16"),
        (".ogg", "OGG", "VORBIS"),
        (".mp3", "MP3", "MPEG_LAYER_III"),
    ],
)
def test_reads_every_common_format(
    tmp_path: Path, speech_wav: Path, suffix: str, format: str, subtype: str
) -> None:
    if format not in sf.available_formats():
        pytest.skip(f"this libsndfile cannot write {format}")
    reference, rate = read_audio(speech_wav)
    path = tmp_path / f"speech{suffix}"
    sf.write(path, reference, rate, format=format, subtype=subtype)
    samples, read_rate = read_audio(path)
    assert read_rate == rate
    if format in ("WAV", "FLAC"):
        assert np.allclose(samples, reference, atol=1 / 32768 + 1e-6)
    else:  # lossy codecs: same length (give or take codec padding), strongly correlated
        n = min(len(samples), len(reference))
        assert abs(len(samples) - len(reference)) < 0.05 * rate
        lag = int(np.argmax(np.correlate(samples[:4000], reference[:4000], "full"))) - 3999
        aligned = np.roll(samples[:n], -lag)
        assert np.corrcoef(aligned, reference[:n])[0, 1] > 0.9


def test_downmixes_channels(tmp_path: Path, speech_wav: Path) -> None:
    mono, rate = read_audio(speech_wav)
    stereo = np.stack([mono, 0.5 * mono], axis=1)
    write_audio(tmp_path / "stereo.wav", stereo, rate)
    downmixed, _ = read_audio(tmp_path / "stereo.wav")
    assert downmixed.shape == mono.shape
    assert np.allclose(downmixed, 0.75 * mono, atol=2 / 32768)
    both, _ = read_audio(tmp_path / "stereo.wav", mono=False)
    assert both.shape == (len(mono), 2)


def test_reads_a_segment(speech_wav: Path) -> None:
    full, rate = read_audio(speech_wav)
    part, _ = read_audio(speech_wav, offset=0.5, duration=0.25)
    start = int(0.5 * rate)
    assert np.array_equal(part, full[start : start + len(part)]) and len(part) == int(0.25 * rate)


def test_write_round_trip_and_atomicity(tmp_path: Path) -> None:
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype(np.float32)
    for name in ("tone.wav", "tone.flac"):
        write_audio(tmp_path / name, tone, 16000)
        back, rate = read_audio(tmp_path / name)
        assert rate == 16000 and np.allclose(back, tone, atol=1 / 32768 + 1e-6)
    with pytest.raises(AudioError, match="cannot write '.mp4'"):
        write_audio(tmp_path / "tone.mp4", tone, 16000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tone.flac", "tone.wav"]  # no temporary left
    (tmp_path / "plain.wav").write_bytes(b"")
    plain_mode = (tmp_path / "plain.wav").stat().st_mode & 0o777
    assert (tmp_path / "tone.wav").stat().st_mode & 0o777 == plain_mode  # as `open` makes it, not 0600


def test_a_failed_write_is_one_line_naming_the_output_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("a file where a folder should be\n")
    (tmp_path / "dir").mkdir()
    for target in (tmp_path / "file" / "x.txt", tmp_path / "dir"):
        with pytest.raises(OutputError) as caught, atomic_output(target) as stream:
            stream.write(b"never")
        assert str(caught.value).startswith(f"{target}: cannot write ("), caught.value

    def disk_full(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("speech.audio.os.fsync", disk_full)
    tone = np.zeros(1600, dtype=np.float32)
    with pytest.raises(OutputError) as caught:
        write_audio(tmp_path / "tone.wav", tone, 16000)
    assert str(caught.value) == f"{tmp_path / 'tone.wav'}: cannot write (No space left on device)"
    assert isinstance(caught.value, SpeechError) and isinstance(caught.value, OSError)
    assert caught.value.errno == 28
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "file"]  # no temporary left behind


def _bad_files(folder: Path, speech_wav: Path) -> dict[str, tuple[Path, str]]:
    good = speech_wav.read_bytes()
    cases = {
        "missing": (folder / "missing.wav", "file not found"),
        "empty": (folder / "empty.wav", "empty"),
        "truncated": (folder / "truncated.wav", "truncated"),
        "header only": (folder / "header.wav", "data"),
        "corrupt": (folder / "corrupt.flac", "not a recognised audio format"),
        "text": (folder / "notes.wav", "not a recognised audio format"),
        "nan": (folder / "nan.wav", "NaN"),
        "directory": (folder / "dir.wav", "directory"),
        "random bytes named .mp3": (folder / "noise.mp3", "not a recognised audio format"),
        "fifo": (folder / "pipe.wav", "not a regular file"),
        "newline in the name": (folder / "two\nlines.wav", "not a recognised audio format"),
    }
    (folder / "noise.mp3").write_bytes(np.random.default_rng(1).bytes(5000))
    os.mkfifo(folder / "pipe.wav")
    (folder / "two\nlines.wav").write_text("not audio\n")
    (folder / "empty.wav").write_bytes(b"")
    (folder / "truncated.wav").write_bytes(good[: len(good) // 2])
    (folder / "header.wav").write_bytes(good[:30])
    (folder / "corrupt.flac").write_bytes(np.random.default_rng(0).bytes(5000))
    (folder / "notes.wav").write_text("this is not audio\n")
    sf.write(folder / "nan.wav", np.array([0.1, np.nan, 0.2] * 100, dtype=np.float32), 16000, subtype="FLOAT")
    (folder / "dir.wav").mkdir()
    return cases


def test_bad_input_raises_one_line_error_naming_the_file(tmp_path: Path, speech_wav: Path) -> None:
    for case, (path, problem) in _bad_files(tmp_path, speech_wav).items():
        with pytest.raises(AudioError) as caught:
            read_audio(path)
        message = str(caught.value)
        assert message.startswith(str(path).replace("\n", "\\n")), case
        assert problem in message, (case, message)
        assert "\n" not in message, case


def test_decode_bytes_errors_name_the_source() -> None:
    with pytest.raises(AudioError, match="^shard-000001.tar:utt1: cannot decode"):
        decode_audio(b"garbage" * 100, "shard-000001.tar:utt1")


def test_resample_is_identity_at_same_rate() -> None:
    samples = np.random.default_rng(0).standard_normal(100).astype(np.float32)
    assert resample(samples, 16000, 16000) is samples


def test_a_segment_out_of_the_recording_is_one_line(speech_wav: Path) -> None:
    for offset, duration, problem in [
        (1e308, None, "offset 1000"),  # seconds beyond any recording: once an OverflowError
        (-1.0, 1.0, "not a stretch of a recording"),
        (float("nan"), None, "not a stretch of a recording"),
        (0.0, float("inf"), "not a stretch of a recording"),
    ]:
        with pytest.raises(AudioError, match=problem) as caught:
            read_audio(speech_wav, offset=offset, duration=duration)
        assert str(caught.value).startswith(str(speech_wav)), caught.value
    samples, rate = read_audio(speech_wav, offset=0.5, duration=1e308)  # a duration past the end: the rest
    assert len(samples) == audio_info(speech_wav).frames - int(0.5 * rate)


def test_random_bytes_named_mp3_make_no_decoder_noise(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    """libmpg123 printed its own 'Note: Illegal Audio-MPEG-Header' lines beside the one-line error."""
    path = tmp_path / "noise.mp3"
    path.write_bytes(np.random.default_rng(2).bytes(20000))  # (seed 1's bytes begin with an MPEG sync word)
    with pytest.raises(AudioError, match="not a recognised audio format"):
        read_audio(path)
    assert capfd.readouterr().err == ""
    real = tmp_path / "tone.mp3"
    sf.write(real, 0.3 * np.sin(np.arange(16000) / 8), 16000, format="MP3")
    assert len(read_audio(real)[0]) == 16000  # real MP3 files still read
