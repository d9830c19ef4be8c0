"""Fundamental frequency (F0) and voicing of speech frames, by YIN (de Cheveigné & Kawahara, 2002).

The LPC vocoder learns to predict F0 from the log-mel (for its long-term predictor, see
:mod:`speech.models.lpcnet`), so training needs F0 targets for the frames it trains on. YIN is the classic
choice for that: no training, no dependency, robust on clean read speech, and vectorised here over all the
frames of a batch, with each frame's difference function computed by one FFT correlation, so estimating the
few thousand frames a training step uses costs milliseconds.

For a frame centred at sample ``c``, the difference function of lag ``tau`` compares the window
``x[c - W/2 : c + W/2]`` with itself ``tau`` samples later; its cumulative-mean-normalised form dips below
``threshold`` at the period of a voiced frame. The first dip (after the lag of ``f0_max``) is taken, refined
to its local minimum and by a parabola through its neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

F0_MIN = 60.0  # Hz: the lowest voice expected (a deep male voice)
F0_MAX = 500.0  # Hz: the highest (a child's, or a singing voice's upper range)
WINDOW_SECONDS = 0.025  # the integration window: the mel frames' own 25 ms
THRESHOLD = 0.2  # cumulative-mean-normalised difference below which a frame counts as voiced
SILENCE_DB = -50.0  # frames whose RMS is below this (dB re full scale) are unvoiced whatever their shape


@dataclass(frozen=True)
class Pitch:
    """Per-frame estimates: ``period`` in samples (fractional; the best lag even where unvoiced),
    ``voiced`` (bool), and ``f0`` in Hz (``sample_rate / period``)."""

    period: np.ndarray
    voiced: np.ndarray
    sample_rate: int

    @property
    def f0(self) -> np.ndarray:
        return self.sample_rate / self.period


def lag_range(sample_rate: int, f0_min: float = F0_MIN, f0_max: float = F0_MAX) -> tuple[int, int]:
    """The shortest and longest period searched, in whole samples."""
    return max(2, int(np.floor(sample_rate / f0_max))), int(np.ceil(sample_rate / f0_min))


def estimate_pitch(
    audio: np.ndarray,
    centres: np.ndarray,
    sample_rate: int,
    f0_min: float = F0_MIN,
    f0_max: float = F0_MAX,
    threshold: float = THRESHOLD,
) -> Pitch:
    """YIN estimates for frames of ``audio`` (..., L) centred at the sample indices ``centres`` (..., M)
    (the same leading shape, or none for one waveform); samples outside the audio count as silence."""
    audio = np.asarray(audio, np.float64)
    centres = np.asarray(centres, np.int64)
    single = audio.ndim == 1
    if single:
        audio, centres = audio[None], centres[None]
    window = int(round(WINDOW_SECONDS * sample_rate))
    min_lag, max_lag = lag_range(sample_rate, f0_min, f0_max)
    span = window + max_lag + 1

    starts = centres - window // 2
    positions = starts[..., None] + np.arange(span)
    inside = (positions >= 0) & (positions < audio.shape[-1])
    rows = np.arange(audio.shape[0]).reshape((-1,) + (1,) * (centres.ndim))
    frames = np.where(inside, audio[rows, positions.clip(0, audio.shape[-1] - 1)], 0.0)  # (..., M, span)

    # d(tau) = sum_j (x_j - x_{j+tau})^2 over j < window = e(0) + e(tau) - 2 r(tau).
    size = 1 << int(np.ceil(np.log2(2 * span)))
    head = np.fft.rfft(frames[..., :window], size)
    whole = np.fft.rfft(frames, size)
    correlation = np.fft.irfft(np.conj(head) * whole, size)[..., : max_lag + 1]
    energy = np.cumsum(np.concatenate([np.zeros(frames.shape[:-1] + (1,)), frames**2], -1), -1)
    lags = np.arange(max_lag + 1)
    shifted = energy[..., lags + window] - energy[..., lags]  # e(tau): the window's energy tau later
    difference = np.maximum(shifted[..., :1] + shifted - 2 * correlation, 0.0)
    running = np.cumsum(difference[..., 1:], -1) / lags[1:]
    normalised = np.ones_like(difference)
    normalised[..., 1:] = difference[..., 1:] / np.maximum(running, 1e-12)

    search = normalised[..., min_lag : max_lag + 1]
    below = search < threshold
    first = np.where(below.any(-1), below.argmax(-1), search.argmin(-1))
    # Walk down from the first dip to its local minimum (a dip spans a few lags at most).
    lag = first + min_lag
    for _ in range(max_lag):
        nxt = np.minimum(lag + 1, max_lag)
        better = (
            np.take_along_axis(normalised, nxt[..., None], -1)[..., 0]
            < np.take_along_axis(normalised, lag[..., None], -1)[..., 0]
        )
        if not better.any():
            break
        lag = np.where(better, nxt, lag)
    value = np.take_along_axis(normalised, lag[..., None], -1)[..., 0]
    left = np.take_along_axis(normalised, np.maximum(lag - 1, 0)[..., None], -1)[..., 0]
    right = np.take_along_axis(normalised, np.minimum(lag + 1, max_lag)[..., None], -1)[..., 0]
    curvature = left - 2 * value + right
    offset = np.where(curvature > 1e-12, 0.5 * (left - right) / np.maximum(curvature, 1e-12), 0.0)
    period = lag + np.clip(offset, -0.5, 0.5)

    rms = np.sqrt(shifted[..., 0] / window)
    voiced = (value < threshold) & (20 * np.log10(np.maximum(rms, 1e-12)) > SILENCE_DB)
    if single:
        period, voiced = period[0], voiced[0]
    return Pitch(period=period, voiced=voiced, sample_rate=sample_rate)


def track_pitch(
    audio: np.ndarray, sample_rate: int, hop: int, frames: int, f0_min: float = F0_MIN, f0_max: float = F0_MAX
) -> Pitch:
    """pYIN's track (Mauch & Dixon, 2014; librosa) for ``frames`` frames of one waveform, frame f measured
    at sample ``f * hop + hop // 2``: slower than :func:`estimate_pitch` (about 6x real time on one core, so
    it is computed once per corpus, :class:`PitchTracks`), but its probabilistic thresholds and Viterbi
    smoothing make far fewer octave jumps and voicing flickers, which a source that follows F0 turns into
    roughness (on Piper joe's held-out sentences YIN's period is over 20% off pYIN's on 8% of frames both
    call voiced). Unvoiced frames carry the period interpolated from their voiced neighbours."""
    try:
        import librosa
    except ImportError:
        raise ImportError("pYIN pitch tracks need librosa: pip install librosa") from None

    audio = np.asarray(audio, np.float32)[hop // 2 :]  # frame f is centred at f * hop of the shifted audio
    length = max(2 * int(np.ceil(sample_rate / f0_min)) + 1, 1024)
    f0, voiced, _ = librosa.pyin(
        np.pad(audio, (0, max(0, frames * hop - len(audio)))),
        fmin=f0_min,
        fmax=f0_max,
        sr=sample_rate,
        frame_length=1 << int(np.ceil(np.log2(length))),
        hop_length=hop,
        center=True,
    )
    f0, voiced = f0[:frames], voiced[:frames].astype(bool)
    known = np.flatnonzero(voiced)
    if len(known):
        log_f0 = np.interp(np.arange(frames), known, np.log2(f0[known]))
    else:
        log_f0 = np.full(frames, np.log2(np.sqrt(f0_min * f0_max)))
    return Pitch(period=sample_rate / 2**log_f0, voiced=voiced, sample_rate=sample_rate)


class PitchTracks:
    """Pitch tracks of a corpus's utterances by id (:func:`track_pitch`), as tools/pitch_tracks.py writes them
    into one ``.npz``: ``<id>.period`` and ``<id>.voiced`` per utterance, one value per feature frame, and
    the ``hop`` and ``sample_rate`` they were measured at. Loading checks those against the training's
    features, and each lookup checks an utterance's frame count against its audio, so tracks of other
    features or of remade audio stop a run with one line instead of teaching misaligned targets."""

    def __init__(self, path: str | Path, hop: int, sample_rate: int):
        self.path = Path(path)
        try:
            with np.load(self.path) as store:
                arrays = {key: store[key] for key in store.files}
        except (OSError, ValueError) as error:
            raise ValueError(
                f"{self.path}: not a pitch-track file tools/pitch_tracks.py writes ({error})"
            ) from None
        measured = (int(arrays.pop("hop", -1)), int(arrays.pop("sample_rate", -1)))
        if measured != (hop, sample_rate):
            raise ValueError(
                f"{self.path}: tracks measured at hop {measured[0]} / {measured[1]} Hz, the features have hop "
                f"{hop} / {sample_rate} Hz (run tools/pitch_tracks.py again)"
            )
        ids = {key.rsplit(".", 1)[0] for key in arrays}
        broken = sorted(i for i in ids if f"{i}.period" not in arrays or f"{i}.voiced" not in arrays)
        if broken:
            raise ValueError(f"{self.path}: {broken[0]!r} lacks its period or voicing array")
        self.tracks = {i: (arrays[f"{i}.period"], arrays[f"{i}.voiced"]) for i in ids}
        self.sample_rate = sample_rate

    def frames(self, ids: list[str], lengths: list[int], frames: np.ndarray) -> Pitch:
        """Period and voicing of utterance ``ids[i]`` (``lengths[i]`` feature frames long) at frame indices
        ``frames[i]`` (rows of the same length), as :func:`estimate_pitch` gives them; frames past an
        utterance's end repeat its last."""
        rows = []
        for utterance, length, indices in zip(ids, lengths, frames, strict=True):
            if utterance not in self.tracks:
                raise ValueError(
                    f"{self.path}: no pitch track for {utterance!r} (run tools/pitch_tracks.py again)"
                )
            period, voiced = self.tracks[utterance]
            if len(period) != length:
                raise ValueError(
                    f"{self.path}: the track of {utterance!r} has {len(period)} frames, its audio {length} "
                    "(audio remade since? run tools/pitch_tracks.py again)"
                )
            inside = np.minimum(indices, length - 1)
            rows.append((period[inside], voiced[inside]))
        return Pitch(
            period=np.stack([r[0] for r in rows]).astype(np.float64),
            voiced=np.stack([r[1] for r in rows]),
            sample_rate=self.sample_rate,
        )


def head_loss(log_period: Tensor, voicing: Tensor, period: Tensor, voiced: Tensor) -> Tensor:
    """The loss of a vocoder's F0 head on frames whose YIN estimates are ``period`` and ``voiced``: voicing
    cross-entropy on every frame plus the L1 error of log2 period on voiced ones."""
    import torch.nn.functional as F

    voiced = voiced.to(voicing.device)
    voicing_loss = F.binary_cross_entropy_with_logits(voicing, voiced.float())
    error = (log_period - period.to(log_period.device).log2()).abs() * voiced
    return voicing_loss + error.sum() / voiced.sum().clamp_min(1)


class PitchErrors:
    """How an F0 head does against YIN over validation: the share of frames whose voicing it gets wrong,
    and of frames voiced in both whose period is more than 20% off (the usual gross pitch error)."""

    def __init__(self) -> None:
        self.wrong = self.gross = self.frames = self.voiced = 0

    def add(self, log_period: np.ndarray, voicing: np.ndarray, estimate: Pitch, inside: np.ndarray) -> None:
        """One batch: the head's log2 periods and voicing logits, YIN's estimate, and which frames count."""
        truth, guess = estimate.voiced & inside, (voicing > 0) & inside
        both = truth & guess
        self.wrong += int((truth != guess).sum())
        self.gross += int((both & (np.abs(log_period - np.log2(estimate.period)) > np.log2(1.2))).sum())
        self.frames += int(inside.sum())
        self.voiced += int(both.sum())

    def metrics(self) -> dict[str, float]:
        return {
            "voicing_error": self.wrong / max(self.frames, 1),
            "gross_pitch_error": self.gross / max(self.voiced, 1),
        }
