"""What a feature frame means (:class:`FeatureConfig`), and the features computed in numpy.

This module imports neither torch nor torchaudio, so that transcription through onnxruntime starts in a
fraction of a second: importing torch costs more than a second and hundreds of MB before any work is done.
:class:`speech.features.FeatureExtractor` computes the same features in torch (training, the torch backend);
:class:`LogMel` agrees with it to within 1e-3 in the log domain on speech (``tests/test_logmel.py``), float32
rounding in two FFT libraries being the only difference.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from speech.errors import SpeechError

LOG_FLOOR = 1e-6  # keeps log() finite on digital silence, ~-60 dB below a full-scale power of 1


@dataclass(frozen=True)
class FeatureConfig:
    """Everything that decides what a feature frame means.

    Defaults are the usual ASR front end: 16 kHz, 25 ms windows every 10 ms, 80 Slaney-scale mels (the
    librosa convention, so features match librosa's and most published recipes).
    """

    sample_rate: int = 16000
    n_fft: int = 400
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 80
    f_min: float = 0.0
    f_max: float | None = None
    kind: str = "logmel"  # "logmel" or "mfcc"
    n_mfcc: int = 13

    def __post_init__(self) -> None:
        if self.kind not in ("logmel", "mfcc"):
            raise SpeechError(f"feature kind must be 'logmel' or 'mfcc', not {self.kind!r}")
        if self.win_length > self.n_fft:
            raise SpeechError(f"win_length {self.win_length} exceeds n_fft {self.n_fft}")
        nyquist = self.sample_rate / 2
        if not 0 <= self.f_min < (self.f_max or nyquist) <= nyquist:
            raise SpeechError(f"need 0 <= f_min < f_max <= {nyquist:g} Hz, got {self.f_min}, {self.f_max}")

    @property
    def dims(self) -> int:
        return self.n_mfcc if self.kind == "mfcc" else self.n_mels

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for a signal of this length (centred STFT)."""
        return num_samples // self.hop_length + 1

    def to_dict(self) -> dict:
        return asdict(self)


def _hz_to_slaney(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = 3.0 * hz / 200.0
    log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_part, linear)


def _slaney_to_hz(mels: np.ndarray) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    linear = 200.0 * mels / 3.0
    log_part = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mels - 15.0))
    return np.where(mels >= 15.0, log_part, linear)


def slaney_filterbank(config: FeatureConfig) -> np.ndarray:
    """(fft bins, mels) float32: triangles evenly spaced on the Slaney mel scale, each scaled to unit area
    (Slaney's normalisation), as torchaudio's ``melscale_fbanks(norm="slaney", mel_scale="slaney")`` and
    librosa's default build them."""
    f_max = config.f_max or config.sample_rate / 2
    bins = np.linspace(0, config.sample_rate / 2, config.n_fft // 2 + 1)
    edges = _slaney_to_hz(np.linspace(_hz_to_slaney(config.f_min), _hz_to_slaney(f_max), config.n_mels + 2))
    widths = np.diff(edges)
    slopes = edges[None, :] - bins[:, None]  # (bins, mels + 2)
    rising = -slopes[:, :-2] / widths[:-1]
    falling = slopes[:, 2:] / widths[1:]
    triangles = np.maximum(0.0, np.minimum(rising, falling))
    triangles *= 2.0 / (edges[2:] - edges[:-2])
    return triangles.astype(np.float32)


def dct_matrix(n_mfcc: int, n_mels: int) -> np.ndarray:
    """(mels, n_mfcc) orthonormal DCT-II, as torchaudio's ``create_dct(norm="ortho")``."""
    n = np.arange(n_mels, dtype=np.float64)
    k = np.arange(n_mfcc, dtype=np.float64)[None, :]
    dct = np.cos(np.pi / n_mels * (n[:, None] + 0.5) * k)
    dct[:, 0] *= 1.0 / np.sqrt(2.0)
    return (dct * np.sqrt(2.0 / n_mels)).astype(np.float32)


class LogMel:
    """Waveform (samples,) -> features (frames, dims), float32, in numpy: a centred STFT (reflect padding,
    periodic Hann window), power, Slaney mels, natural log over :data:`LOG_FLOOR`, then the DCT for MFCCs."""

    CHUNK = 256  # frames transformed at a time: the spectra stay in cache (30% faster than all at once)

    def __init__(self, config: FeatureConfig = FeatureConfig()):
        self.config = config
        window = np.zeros(config.n_fft, dtype=np.float64)
        offset = (config.n_fft - config.win_length) // 2
        periodic = np.arange(config.win_length) / config.win_length
        window[offset : offset + config.win_length] = 0.5 - 0.5 * np.cos(2 * np.pi * periodic)
        self.window = window.astype(np.float32)
        self.filterbank = slaney_filterbank(config)
        # each bin's row twice: the squared real and imaginary parts, side by side in a complex64 spectrum
        # viewed as float32, are summed into power by the product itself
        self._interleaved = np.repeat(self.filterbank, 2, axis=0)
        self.dct = dct_matrix(config.n_mfcc, config.n_mels) if config.kind == "mfcc" else None

    def __call__(self, waveform: np.ndarray) -> np.ndarray:
        config = self.config
        samples = np.asarray(waveform, dtype=np.float32)
        if samples.ndim != 1:
            raise SpeechError(f"features are computed for one mono waveform, got shape {samples.shape}")
        half = config.n_fft // 2
        if len(samples) <= half:
            raise SpeechError(f"{len(samples)} samples: too short for a {config.n_fft}-sample window")
        padded = np.pad(samples, half, mode="reflect")
        frames = np.lib.stride_tricks.sliding_window_view(padded, config.n_fft)[:: config.hop_length]
        mels = np.empty((len(frames), config.n_mels), dtype=np.float32)
        for start in range(0, len(frames), self.CHUNK):
            parts = np.fft.rfft(frames[start : start + self.CHUNK] * self.window, axis=-1).view(np.float32)
            np.matmul(np.square(parts, out=parts), self._interleaved, out=mels[start : start + self.CHUNK])
        features = np.log(mels + LOG_FLOOR, out=mels)
        return features @ self.dct if self.dct is not None else features
