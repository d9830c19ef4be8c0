"""What every vocoder does around its own generation (the GRU vocoders and Griffin-Lim alike): check log-mel
inputs, make them from audio for copy synthesis, and vocode one input through ``vocode_many``."""

from __future__ import annotations

import os

import numpy as np
import torch

from speech.audio import read_audio
from speech.errors import SpeechError
from speech.features import FeatureConfig, FeatureExtractor
from speech.frames import check_frames


class VocoderError(SpeechError):
    """A vocoder folder that cannot be loaded, or input it cannot use; one line naming the problem."""


class MelVocoder:
    def __init__(self, features: FeatureConfig):
        self.features = features
        self.extractor = FeatureExtractor(features)

    @property
    def sample_rate(self) -> int:
        return self.features.sample_rate

    def vocode_many(self, mels: list[np.ndarray], seed: int = 0, **options) -> list[np.ndarray]:
        """Waveforms of frames * hop samples for (frames, mels) log-mel inputs."""
        raise NotImplementedError

    def check_mel(self, mel: np.ndarray, source: str = "mel") -> np.ndarray:
        try:
            return check_frames(mel, source, self.features.n_mels)
        except SpeechError as error:
            raise VocoderError(str(error)) from None

    def vocode(self, mel: np.ndarray, seed: int = 0, **options) -> tuple[np.ndarray, int]:
        """One (frames, mels) log-mel input -> (samples, sample rate), frames * hop samples long."""
        return self.vocode_many([mel], seed, **options)[0], self.sample_rate

    def mel(self, samples: np.ndarray) -> np.ndarray:
        """The log-mel frames this vocoder consumes, for a waveform at its sample rate."""
        return self.extractor(torch.from_numpy(np.ascontiguousarray(samples, np.float32))).numpy()

    def copy_synthesis(
        self, audio: str | os.PathLike | np.ndarray, seed: int = 0, **options
    ) -> tuple[np.ndarray, int]:
        """Audio (a file, or samples at the vocoder's rate) -> its log-mel -> audio of the same length."""
        if isinstance(audio, np.ndarray):
            samples = audio
        else:
            samples, _ = read_audio(audio, self.sample_rate)
        generated, rate = self.vocode(self.mel(samples), seed, **options)
        return generated[: len(samples)], rate
