"""Log-mel frames -> audio without a trained vocoder: the mel filterbank's pseudo-inverse, then Griffin-Lim.

It sounds phasey and thin, but it needs no training, so synthesis runs end to end before a vocoder is trained
(and acoustic-model validation can be listened to). Same interface as :class:`speech.vocoder.Vocoder`.
"""

from __future__ import annotations

import numpy as np
import torch
import torchaudio

from speech.features import FeatureConfig, mel_filterbank, mel_power
from speech.vocoder.base import MelVocoder


class GriffinLim(MelVocoder):
    def __init__(self, features: FeatureConfig, iterations: int = 32):
        super().__init__(features)
        bank = mel_filterbank(features)  # (freqs, mels)
        self.inverse = torch.linalg.pinv(bank.T)  # (freqs, mels)
        self.griffin_lim = torchaudio.transforms.GriffinLim(
            features.n_fft,
            n_iter=iterations,
            win_length=features.win_length,
            hop_length=features.hop_length,
            power=2.0,
            rand_init=False,  # deterministic
        )

    @torch.inference_mode()
    def vocode_many(self, mels: list[np.ndarray], seed: int = 0, **_options) -> list[np.ndarray]:
        """Waveforms of frames * hop samples for (frames, mels) log-mel inputs."""
        hop, out = self.features.hop_length, []
        for mel in mels:
            power = mel_power(torch.as_tensor(np.asarray(mel), dtype=torch.float32))
            samples = (
                self.griffin_lim((self.inverse @ power.T).clamp_min(0)) if len(mel) > 1 else torch.zeros(0)
            )
            samples = torch.nn.functional.pad(samples, (0, max(0, len(mel) * hop - len(samples))))
            out.append(samples[: len(mel) * hop].clamp(-1, 1).numpy())
        return out
