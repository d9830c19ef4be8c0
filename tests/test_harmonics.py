"""The harmonic source: pulse trains at F0 whose bands hold the harmonics inside them, together of unit RMS."""

from __future__ import annotations

import math

import pytest
import torch

from speech.harmonics import harmonic_source, octave_edges


def test_octave_edges_halve_downwards() -> None:
    assert octave_edges(4) == [0.0, 1 / 16, 1 / 8, 1 / 4, 1 / 2]
    with pytest.raises(ValueError, match="bands"):
        octave_edges(0)


@pytest.mark.parametrize("f0", [97.0, 120.0, 231.0])
def test_each_band_holds_its_harmonics_and_the_sum_is_a_unit_pulse_train(f0: float) -> None:
    frames, hop, rate = 100, 160, 16000
    source = harmonic_source(torch.full((1, frames), f0 / rate), torch.ones(1, frames), hop, 4)[0]
    assert source.shape == (frames * hop, 4)
    whole = source.sum(-1)
    assert whole.pow(2).mean().sqrt() == pytest.approx(1.0, abs=0.02)
    # The sum is a pulse train: its peaks are one period apart and tower over its RMS.
    period = rate / f0
    inner = whole[1:-1]
    peaks = torch.nonzero((inner > whole[:-2]) & (inner >= whole[2:]) & (inner > 0.4 * whole.max()))[:, 0]
    assert peaks.diff().double().mean().item() == pytest.approx(period, abs=0.5)
    assert whole.max() > 5
    # Each band's energy lies between its edges, and every harmonic below Nyquist is there.
    spectrum = torch.fft.rfft(source * torch.hann_window(len(source))[:, None], dim=0).abs()
    frequencies = torch.fft.rfftfreq(len(source), 1 / rate)
    edges = [edge * rate for edge in octave_edges(4)]
    for band in range(4):
        strong = frequencies[spectrum[:, band] > 0.1 * spectrum[:, band].max()]
        assert edges[band] - 20 <= strong.min() and strong.max() <= edges[band + 1] + 20
    harmonics = math.ceil(rate / 2 / f0) - 1
    top = frequencies[spectrum.sum(-1) > 0.1 * spectrum.sum(-1).max()]
    assert top.max() == pytest.approx(harmonics * f0, abs=10)


def test_unvoiced_frames_are_silent_and_voicing_fades() -> None:
    voiced = torch.tensor([[0.0] * 10 + [1.0] * 10 + [0.0] * 10])
    source = harmonic_source(torch.full((1, 30), 0.01), voiced, 160, 2)[0].sum(-1)
    assert source[:1400].abs().max() == 0 and source[-1400:].abs().max() == 0
    assert source[1700:3100].pow(2).mean().sqrt() == pytest.approx(1.0, abs=0.1)
    assert source[1500:1660].abs().max() < source[1800:1960].abs().max()  # fading in, not a step
