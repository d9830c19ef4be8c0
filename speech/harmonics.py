"""A harmonic source: band-limited pulse trains at a voice's F0, split into octave bands, for a vocoder to
mix into its excitation (as the sine-based sources of neural source-filter vocoders, Wang et al. 2019).

A vocoder trained only on a spectral loss learns each harmonic's magnitude but not how the harmonics' phases
line up, which is what makes voiced speech a train of sharp glottal pulses rather than a rough buzz; a source
that already has the pulses leaves the network the mixing (how much of each band is periodic), which a
spectral loss can teach. Every harmonic is a cosine at phase zero at each pulse, so their sum is a pulse.

The sum of the harmonics ``k = 1..N`` has a closed form (the Dirichlet kernel), so a band is two sines and
one division per sample, whatever its number of harmonics:

    sum_{k=1..N} cos(k phi) = sin((N + 1/2) phi) / (2 sin(phi / 2)) - 1/2
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def octave_edges(bands: int) -> list[float]:
    """Band edges in cycles per sample: the top band is the upper half of the spectrum, each band below it
    half as wide, the lowest reaching down to 0 (4 bands at 16 kHz: 0-1, 1-2, 2-4, 4-8 kHz)."""
    if bands < 1:
        raise ValueError(f"bands must be at least 1, got {bands}")
    return [0.0] + [0.5 / 2 ** (bands - 1 - i) for i in range(bands)]


def harmonic_source(frequency: Tensor, voiced: Tensor, hop: int, bands: int) -> Tensor:
    """(B, F) F0 in cycles per sample and voicing (0 to 1) per frame -> (B, F * hop, bands) pulse trains,
    each band holding the harmonics whose frequency falls inside it, together of unit RMS where voiced.

    The frequency holds for a frame's ``hop`` samples and the phase runs on across frames; the voicing is
    interpolated linearly between frame centres, so a pulse train fades in and out instead of clicking."""
    batch, frames = frequency.shape
    per_sample = frequency.double().repeat_interleave(hop, 1)
    phase = torch.remainder(2 * math.pi * per_sample.cumsum(1), 2 * math.pi)
    half = torch.sin(phase / 2)
    near_pulse = half.abs() < 1e-6
    denominator = torch.where(near_pulse, 1.0, 2 * half)  # never 0, even in the branch not taken

    def below(edge: float) -> Tensor:
        """Harmonics strictly below ``edge`` (cycles per sample), and their cosines' sum plus one half."""
        count = (torch.ceil(edge / per_sample) - 1).clamp_min(0)
        total = torch.where(near_pulse, count + 0.5, torch.sin((count + 0.5) * phase) / denominator)
        return count, total

    edges = octave_edges(bands)
    counts, sums = zip(*(below(edge) for edge in edges[1:]), strict=True)
    scale = torch.sqrt(2 / counts[-1].clamp_min(1))  # each cosine's amplitude, for unit RMS over all bands
    source = torch.stack([sums[0] - 0.5] + [sums[i] - sums[i - 1] for i in range(1, bands)], -1)
    gate = torch.nn.functional.interpolate(
        voiced.double()[:, None], size=frames * hop, mode="linear", align_corners=False
    )[:, 0]
    return (source * (scale * gate)[..., None]).to(frequency.dtype)
