"""Corrupting training audio for recognizers: a model that heard one clean channel spells words into any other.

Eight corruptions, each applied to a drawn share of the utterances, in this order (a talker in a room, other
talkers, noise, then the channel, the recording level and the file's codec):

- **speed**, another speaker: the waveform resampled so that it plays faster or slower by a factor drawn
  uniformly from 1 +- ``speed_max``, which moves the pitch and every formant by that factor and the
  duration by its inverse (Ko et al., 2015), as a shorter or longer vocal tract does;
- **spectral tilt**, a different microphone or voice effort: the spectrum is multiplied by a slope of
  so many dB per octave about a pivot at 1/8 of the Nyquist frequency (1 kHz at 16 kHz), drawn uniformly
  from +- ``tilt_max`` dB, and the waveform keeps its power;
- **reverberation**, a room: convolution with a simulated impulse response, the direct sound followed by
  the statistical model of a diffuse tail (Polack's exponentially decaying noise, 60 dB down after the drawn
  reverberation time), its energy set by a drawn direct-to-reverberant ratio; high frequencies decay faster,
  as walls and air absorb them more. The statistical tail needs no room geometry, costs one FFT convolution,
  and spans the reverberation times and ratios of real rooms, which is what a recognizer must learn to ignore;
- **babble**, other talkers: up to ``babble_talkers`` other utterances of the same batch, each from a random
  point (wrapping), summed and mixed in at a drawn signal-to-babble ratio;
- **additive noise**, Gaussian noise whose spectrum slopes as 1 / f**alpha, alpha drawn from [0, 2] (white,
  pink, brown and between), at a signal-to-noise ratio drawn uniformly in decibels;
- **telephone**: band-limited to 300-3400 Hz, sampled at 8 kHz and companded by G.711's 8-bit mu-law, the
  narrow-band channel of telephone and VoIP audio, then brought back to 16 kHz;
- **clipping**, a recording level set too high: the loudest share of the samples (drawn up to
  ``clip_fraction_max``) flattened at the level they exceed;
- **a lossy codec**, audio as it is shared (audiobooks, podcasts and calls travel as MP3 or Opus, as Debian's
  librivox test files did): encoded and decoded in memory by libsndfile (through PyPI soundfile) as MP3,
  Opus or Vorbis, one drawn with equal chance, at a drawn compression level, which at 16 kHz spans about
  25-40 kbit/s for MP3, 10-90 for Opus and 32-45 for Vorbis: their pre-echo, band limits and holes.

The random draws come from a generator the stream seeds per batch, so a resumed run corrupts alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.fft
import scipy.signal
import soundfile

from speech.audio import decode_audio, encode_audio, fit_length, resample
from speech.errors import SpeechError
from speech.features import SpecAugmentConfig

TILT_PIVOT = 1 / 8  # of the Nyquist frequency: the level there is unchanged
TILT_FLOOR = 1 / 80  # below this (100 Hz at 16 kHz) the slope stops, so hum and DC are not blown up
SAMPLE_RATE = 16000  # of the training audio (the features' rate)
TELEPHONE_RATE = 8000
TELEPHONE_BAND = (300.0, 3400.0)  # Hz: the voice band of ITU-T G.712
MULAW = 255.0  # G.711's mu
CODECS = (("MP3", "MPEG_LAYER_III"), ("OGG", "OPUS"), ("OGG", "VORBIS"))  # libsndfile's format and subtype
CODEC_LEVELS = (0.6, 0.99)  # libsndfile's compression level (0: best quality, 1: smallest), drawn between
HIGH_FREQUENCY_DECAY = 2.0  # the tail's top frequencies decay this many times faster than its lowest


def shape_spectrum(signal: np.ndarray, gain: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``signal`` (float64) filtered by ``gain``, a function of frequency as a fraction of Nyquist.

    The transform is zero-padded to a length with small prime factors: an utterance of prime length would
    take ten times as long, and the training stream's one worker would hold back the model.
    """
    size = scipy.fft.next_fast_len(len(signal), real=True)
    spectrum = scipy.fft.rfft(signal, n=size)
    return scipy.fft.irfft(spectrum * gain(np.linspace(0.0, 1.0, len(spectrum))), n=size)[: len(signal)]


def coloured_noise(length: int, alpha: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-power Gaussian noise of ``length`` samples with a power spectrum proportional to 1 / f**alpha."""
    white = rng.standard_normal(length)
    # The mean gets the first bin's gain, where the slope starts.
    noise = shape_spectrum(white, lambda fraction: np.maximum(fraction, fraction[1]) ** -(alpha / 2))
    return noise / max(float(np.sqrt(np.mean(noise**2))), 1e-12)


def add_noise(waveform: np.ndarray, snr_db: float, alpha: float, rng: np.random.Generator) -> np.ndarray:
    """``waveform`` plus 1 / f**alpha noise (0: white) ``snr_db`` below its mean power, clipped to [-1, 1]."""
    power = float(np.mean(waveform.astype(np.float64) ** 2))
    noise = coloured_noise(len(waveform), alpha, rng) * np.sqrt(power / 10 ** (snr_db / 10))
    return np.clip(waveform + noise, -1.0, 1.0).astype(np.float32)


def tilt_spectrum(waveform: np.ndarray, db_per_octave: float) -> np.ndarray:
    """``waveform`` with its spectrum sloped by ``db_per_octave`` about the pivot, at its own mean power,
    clipped to [-1, 1]."""
    signal = waveform.astype(np.float64)
    tilted = shape_spectrum(
        signal,
        lambda nyquist_fraction: (
            10 ** (db_per_octave * np.log2(np.maximum(nyquist_fraction, TILT_FLOOR) / TILT_PIVOT) / 20)
        ),
    )
    scale = np.sqrt(np.mean(signal**2) / max(float(np.mean(tilted**2)), 1e-20))
    return np.clip(tilted * scale, -1.0, 1.0).astype(np.float32)


def change_speed(waveform: np.ndarray, factor: float) -> np.ndarray:
    """``waveform`` played ``factor`` times as fast: ``factor`` times shorter, every frequency ``factor``
    times higher, clipped to [-1, 1]."""
    faster = resample(waveform.astype(np.float32), 16000 * factor, 16000)  # only the ratio matters
    return np.clip(faster, -1.0, 1.0)


def matched_power(changed: np.ndarray, original: np.ndarray) -> np.ndarray:
    """``changed`` at ``original``'s mean power, clipped to [-1, 1], float32."""
    scale = np.sqrt(np.mean(original.astype(np.float64) ** 2) / max(float(np.mean(changed**2)), 1e-20))
    return np.clip(changed * scale, -1.0, 1.0).astype(np.float32)


def room_impulse_response(
    rt60: float, drr_db: float, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """A simulated room's impulse response: a unit direct impulse, then a diffuse tail of Gaussian noise
    decaying by 60 dB over ``rt60`` seconds (faster at high frequencies), ``drr_db`` dB below the direct
    sound in energy. The tail starts 2.5 ms after the direct sound, about the first reflection's delay."""
    start = int(0.0025 * sample_rate)
    time = np.arange(int(rt60 * sample_rate)) / sample_rate
    # Two bands of noise, each with its own decay, stand in for a frequency-dependent decay: the low one
    # decays in rt60, the high one HIGH_FREQUENCY_DECAY times as fast.
    low = shape_spectrum(rng.standard_normal(len(time)), lambda fraction: (fraction < 0.25).astype(float))
    high = shape_spectrum(rng.standard_normal(len(time)), lambda fraction: (fraction >= 0.25).astype(float))
    decay = 3 * np.log(10) / rt60  # amplitude falls 60 dB (a factor of 1000) in rt60 seconds
    tail = low * np.exp(-decay * time) + high * np.exp(-HIGH_FREQUENCY_DECAY * decay * time)
    tail *= np.sqrt(10 ** (-drr_db / 10) / max(float(np.sum(tail**2)), 1e-20))
    response = np.zeros(start + len(tail))
    response[0] = 1.0
    response[start:] = tail
    return response


def reverberate(waveform: np.ndarray, response: np.ndarray) -> np.ndarray:
    """``waveform`` heard through ``response`` (direct sound first, so nothing moves in time), at its own
    length and mean power, clipped to [-1, 1]."""
    wet = scipy.signal.fftconvolve(waveform.astype(np.float64), response)[: len(waveform)]
    return matched_power(wet, waveform)


def babble(
    target: np.ndarray, others: list[np.ndarray], snr_db: float, rng: np.random.Generator
) -> np.ndarray:
    """``target`` plus the sum of ``others``, each read from a random point and wrapped to ``target``'s
    length, ``snr_db`` below ``target``'s mean power, clipped to [-1, 1]."""
    mixture = np.zeros(len(target))
    for other in others:
        start = int(rng.integers(len(other)))
        mixture += np.resize(np.roll(other.astype(np.float64), -start), len(target))
    power = float(np.mean(target.astype(np.float64) ** 2))
    mixture *= np.sqrt(power / 10 ** (snr_db / 10) / max(float(np.mean(mixture**2)), 1e-20))
    return np.clip(target + mixture, -1.0, 1.0).astype(np.float32)


def mulaw_companding(waveform: np.ndarray, mu: float = MULAW) -> np.ndarray:
    """``waveform`` (in [-1, 1]) encoded to 8-bit mu-law codes and decoded back, as G.711 does."""
    levels = int(mu) + 1
    compressed = np.sign(waveform) * np.log1p(mu * np.abs(waveform)) / np.log1p(mu)
    codes = np.round((compressed + 1) / 2 * (levels - 1))
    restored = codes / (levels - 1) * 2 - 1
    return np.sign(restored) * ((1 + mu) ** np.abs(restored) - 1) / mu


def telephone(waveform: np.ndarray) -> np.ndarray:
    """``waveform`` as a telephone line delivers it: 300-3400 Hz, 8 kHz, G.711 mu-law, back at 16 kHz, at
    its own mean power, clipped to [-1, 1]."""
    low, high = (edge / (TELEPHONE_RATE / 2) for edge in TELEPHONE_BAND)
    narrow = resample(waveform.astype(np.float32), SAMPLE_RATE, TELEPHONE_RATE).astype(np.float64)
    narrow = shape_spectrum(narrow, lambda fraction: ((fraction >= low) & (fraction <= high)).astype(float))
    narrow = mulaw_companding(np.clip(narrow / max(float(np.max(np.abs(narrow))), 1e-9), -1.0, 1.0))
    wide = resample(narrow.astype(np.float32), TELEPHONE_RATE, SAMPLE_RATE).astype(np.float64)
    wide = fit_length(wide, len(waveform))
    return matched_power(wide, waveform)


def clip(waveform: np.ndarray, fraction: float) -> np.ndarray:
    """``waveform`` with its loudest ``fraction`` of samples flattened at the level they exceed."""
    level = float(np.quantile(np.abs(waveform), 1 - fraction))
    return np.clip(waveform, -level, level).astype(np.float32) if level > 0 else waveform


def lossy_codec(waveform: np.ndarray, codec: tuple[str, str], level: float) -> np.ndarray:
    """``waveform`` (16 kHz) encoded with ``codec`` (libsndfile's format and subtype) at compression ``level``
    and decoded again, in memory, at its own length (the decoders here remove the encoders' delay)."""
    container, subtype = codec
    # NaN would abort LAME (an assertion, not an error), so none reaches it.
    encoded = encode_audio(np.nan_to_num(waveform), SAMPLE_RATE, container, subtype, level)
    decoded, _ = decode_audio(encoded, f"the {subtype} round trip")
    return fit_length(decoded, len(waveform))


@dataclass(frozen=True)
class WaveformCorruption:
    """The ``augment`` section's waveform corruptions (``speed_*``, ``tilt_*``, ``reverb_*``, ``babble_*``,
    ``noise_*``, ``telephone_prob``, ``clip_*``, ``codec_prob``) as a batch transform."""

    config: SpecAugmentConfig

    def __post_init__(self) -> None:
        if self.config.codec_prob:  # found before training starts, not in a data worker mid-run
            missing = [
                subtype for container, subtype in CODECS if not soundfile.check_format(container, subtype)
            ]
            if missing:
                raise SpeechError(
                    f"augment.codec_prob: this libsndfile ({soundfile.__libsndfile_version__}) cannot "
                    f"write {', '.join(missing)}; install soundfile >= 0.13, whose wheels bundle one that can"
                )

    def __call__(self, waveforms: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        return [
            self._corrupt(waveforms, index, rng) if len(waveform) >= 2 else waveform
            for index, waveform in enumerate(waveforms)
        ]

    def _corrupt(self, batch: list[np.ndarray], index: int, rng: np.random.Generator) -> np.ndarray:
        """``batch[index]`` corrupted; the batch's other (clean) utterances are the babble's talkers. A
        corruption that is off draws nothing, so adding one keeps the others' draws of older configs."""
        waveform = batch[index]
        config = self.config
        if config.speed_prob and rng.random() < config.speed_prob:
            waveform = change_speed(waveform, 1 + rng.uniform(-config.speed_max, config.speed_max))
        if config.tilt_prob and rng.random() < config.tilt_prob:
            waveform = tilt_spectrum(waveform, rng.uniform(-config.tilt_max, config.tilt_max))
        if config.reverb_prob and rng.random() < config.reverb_prob:
            rt60 = rng.uniform(config.reverb_rt60_min, config.reverb_rt60_max)
            drr_db = rng.uniform(config.reverb_drr_min, config.reverb_drr_max)
            waveform = reverberate(waveform, room_impulse_response(rt60, drr_db, rng))
        talkers = (
            [other for i, other in enumerate(batch) if i != index and len(other) >= 2]
            if config.babble_prob
            else []
        )
        if talkers and rng.random() < config.babble_prob:
            count = int(rng.integers(1, min(config.babble_talkers, len(talkers)) + 1))
            chosen = [talkers[i] for i in rng.choice(len(talkers), size=count, replace=False)]
            waveform = babble(
                waveform, chosen, rng.uniform(config.babble_snr_min, config.babble_snr_max), rng
            )
        if rng.random() < config.noise_prob:
            snr_db = rng.uniform(config.noise_snr_min, config.noise_snr_max)
            waveform = add_noise(waveform, snr_db, rng.uniform(0.0, 2.0), rng)
        if config.telephone_prob and rng.random() < config.telephone_prob:
            waveform = telephone(waveform)
        if config.clip_prob and rng.random() < config.clip_prob:
            waveform = clip(waveform, rng.uniform(0.0, config.clip_fraction_max))
        if config.codec_prob and rng.random() < config.codec_prob:
            waveform = lossy_codec(waveform, CODECS[rng.integers(len(CODECS))], rng.uniform(*CODEC_LEVELS))
        return waveform


def waveform_corruption(config: SpecAugmentConfig) -> WaveformCorruption | None:
    """The training streams' corruption from the ``augment`` section, or None when it makes none."""
    return WaveformCorruption(config) if config.corrupts_audio else None
