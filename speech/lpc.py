"""Linear prediction from log-mel frames, for the LPC vocoder (:mod:`speech.models.lpcnet`).

Why from the mel: the vocoder is given log-mel frames only (from audio, or predicted by the acoustic model),
so the spectral envelope its filter uses must come from them, computed the same way in training and in
generation. Each frame's mel power is spread back over the FFT bins by the filterbank's triangles (each bin
the triangle-weighted mean of its bands' power densities), the autocorrelation is its inverse FFT, and
Levinson-Durbin (in float64) gives the predictor. Measured here (``../shared/engineering-notes.md``):
prediction gain within 0.05 dB of LPC from the audio itself (20.2 dB on Piper ``joe``, 22.5 dB on librivox)
once the log floor that :class:`~speech.features.FeatureExtractor` adds is subtracted first; left in, that
flat shelf costs up to 4 dB on quiet input.

Conventions: ``lpc[f]`` holds a_1..a_order of frame ``f`` with the prediction ``p[t] = sum_i a_i s[t-i]``;
sample ``t`` uses the frame whose centre is nearest, ``(t + hop // 2) // hop`` (:func:`sample_frames`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from speech.features import FeatureConfig, mel_filterbank, mel_power

ORDER = 16  # LPCNet's order at 16 kHz


def mel_to_power_matrix(features: FeatureConfig) -> Tensor:
    """(mels, fft bins) float64 matrix: mel band powers -> an estimate of the power spectrum."""
    bins = features.n_fft // 2 + 1
    fb = mel_filterbank(features).double()  # (bins, mels): band m's power is sum_k fb[k, m] P[k]
    band_weight = fb.sum(0)  # a band's power over this is the mean power density under its triangle
    coverage = fb.sum(1, keepdim=True)
    share = fb / coverage.clamp_min(1e-12)  # each bin the triangle-weighted mean of its bands' densities
    matrix = (share / band_weight.clamp_min(1e-12)).T
    covered = (coverage[:, 0] > 0).nonzero()[:, 0]
    nearest = covered[(covered[None, :] - torch.arange(bins)[:, None]).abs().argmin(1)]
    return matrix[:, nearest]  # bins no band covers (DC; above f_max) copy the nearest covered bin


def levinson(r: Tensor, order: int) -> Tensor:
    """(..., order + 1) autocorrelations -> (..., order) predictor coefficients a_1..a_order (float64).
    A frame with no energy predicts nothing (all zeros)."""
    r = r.double()
    energy = r[..., 0].clone()
    silent = energy <= 1e-20
    energy = torch.where(silent, torch.ones_like(energy), energy)
    a = torch.zeros(*r.shape[:-1], order, dtype=torch.float64, device=r.device)
    for i in range(order):
        k = (r[..., i + 1] - (a[..., :i] * r[..., 1 : i + 1].flip(-1)).sum(-1)) / energy
        k = k.clamp(-0.9999, 0.9999)
        previous = a[..., :i].clone()
        a[..., i] = k
        a[..., :i] = previous - k[..., None] * previous.flip(-1)
        energy = energy * (1 - k * k)
    return torch.where(silent[..., None], torch.zeros_like(a), a)


LEVEL_FLOOR = (
    1e-4  # RMS levels below this (-80 dB re full scale) count as this: silence is never divided by 0
)


class MelLPC(torch.nn.Module):
    """(..., frames, mels) log-mel -> (..., frames, ORDER) float32 predictor coefficients; :meth:`analyse`
    also gives each frame's signal and excitation levels."""

    def __init__(self, features: FeatureConfig, order: int = ORDER):
        super().__init__()
        self.order, self.n_fft = order, features.n_fft
        # The STFT's power summed over all bins is the windowed frame's energy (Parseval), so the mean
        # square of the frame itself is r(0) over the window's energy (150 for 400-sample Hann).
        self.window_energy = float(torch.hann_window(features.win_length).pow(2).sum())
        self.register_buffer("to_power", mel_to_power_matrix(features), persistent=False)
        lags = torch.arange(order + 1, dtype=torch.float64)
        window = 1 - 6e-5 * lags**2  # LPCNet's lag window: a slightly wider bandwidth per pole
        window[0] = 1.0001  # and a -40 dB white-noise floor, which keeps the filter well conditioned
        self.register_buffer("lag_window", window, persistent=False)

    def autocorrelation(self, logmel: Tensor) -> Tensor:
        """(..., frames, order + 1) float64 lag-windowed autocorrelation of each frame's estimated spectrum."""
        power = mel_power(logmel.double()) @ self.to_power
        return torch.fft.irfft(power, n=self.n_fft)[..., : self.order + 1] * self.lag_window

    @torch.no_grad()
    def forward(self, logmel: Tensor) -> Tensor:
        return levinson(self.autocorrelation(logmel), self.order).float()

    @torch.no_grad()
    def analyse(self, logmel: Tensor) -> tuple[Tensor, Tensor]:
        """Predictor coefficients (..., frames, order) and levels (..., frames, 2): the RMS of the frame and
        of its prediction error (the excitation), estimated from the mel alone. Measured against the Hann-
        weighted RMS of the recordings (Debian's librivox files, Piper joe): the frame's median ratio 1.00;
        the residual's 0.75-0.89 (the frame-by-frame filter predicts a little better than one frame's
        spectrum says), which the subframe vocoder's learned gain absorbs."""
        r = self.autocorrelation(logmel)
        a = levinson(r, self.order)
        error = r[..., 0] - (a * r[..., 1:]).sum(-1)  # the prediction error's energy
        levels = torch.stack([r[..., 0], error], -1).clamp_min(0) / self.window_energy
        return a.float(), levels.sqrt().clamp_min(LEVEL_FLOOR).float()


def synthesis_matrices(lpc: Tensor, length: int) -> tuple[Tensor, Tensor]:
    """The synthesis filter 1 / A(z) of each predictor (..., order) over a block of ``length`` samples, as
    two matrices: ``s = H @ e + G @ past`` gives the block's samples from its excitation ``e`` (length,) and
    the ``order`` samples before it (oldest first). Both are linear, so a network that emits a block of
    excitation at a time trains through the filter with two matrix products per block, with no per-sample
    loop in the graph. Computed in the predictors' dtype (float64 keeps them exact)."""
    order = lpc.shape[-1]
    reversed_lpc = lpc.flip(-1)  # a_order .. a_1, to meet s[t - order] .. s[t - 1]
    impulse = lpc.new_zeros(*lpc.shape[:-1], order + length)
    impulse[..., order] = 1.0
    # The zero-input response of each unit past sample: (..., order pasts, order + length).
    free = lpc.new_zeros(*lpc.shape[:-1], order, order + length)
    free[..., :order] = torch.eye(order, dtype=lpc.dtype, device=lpc.device)
    for n in range(length):
        if n:
            impulse[..., order + n] = (impulse[..., n : order + n] * reversed_lpc).sum(-1)
        free[..., order + n] = (free[..., n : order + n] * reversed_lpc[..., None, :]).sum(-1)
    index = torch.arange(length, device=lpc.device)
    delay = index[:, None] - index[None, :]
    response = impulse[..., order:]
    h = torch.where(delay >= 0, response[..., delay.clamp_min(0)], torch.zeros((), dtype=lpc.dtype))
    return h, free[..., order:].transpose(-1, -2)


def sample_frames(steps: int, hop: int, frames: int, first: int = 0) -> Tensor:
    """The frame each of ``steps`` samples, from sample ``first`` on (negative: before the first frame's
    centre, for a loop's history), takes its predictor from: the one whose centre is nearest."""
    samples = torch.arange(first, first + steps)
    return torch.div(samples + hop // 2, hop, rounding_mode="floor").clamp(max=frames - 1)
