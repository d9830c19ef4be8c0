"""The LPC vocoder's sample loops, compiled with numba: the closed loop that makes its training inputs, and
generation for a batch of folds.

Both run the same recursion: the prediction ``p[t] = sum_i a_i s[t-i]`` from the signal made so far, then
``s[t] = p[t] + e[t]``. In training ``e[t]`` is the true excitation plus noise (LPCNet's way to make the
network see the imperfect past it will generate from); in generation it is sampled from the network. Mu-law
indices are 8-bit, as :func:`speech.models.vocoder.mulaw_encode` makes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import torch

from speech.models.lpcnet import CLASSES
from speech.vocoder.kernel import gru_update, mulaw_levels_compiled, sample_index

MU = CLASSES - 1


@numba.njit(inline="always", fastmath=True)
def _encode(x):  # pragma: no cover - compiled; speech.models.vocoder.mulaw_encode at 8 bits
    y = min(abs(x), 1.0)
    y = math.copysign(math.log1p(MU * y) / math.log1p(MU), x)
    return min(max(int((y + 1) / 2 * MU + 0.5), 0), MU)


def teacher_inputs(
    audio: np.ndarray, lpc: np.ndarray, noise: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training inputs and targets for segments: ``audio`` (N, order + S) holds each segment with its
    ``order`` preceding samples, ``lpc`` (N, S, order) each sample's predictor, ``noise`` (N, S) integer
    mu-law steps added to the excitation. Returns the mu-law indices (N, S) of s[t-1], p[t] and e[t-1] as
    the loop made them, and the target e[t]: the excitation that leads back to the clean sample."""
    return _teacher_inputs(
        np.ascontiguousarray(audio, np.float32),
        np.ascontiguousarray(lpc, np.float32),
        np.ascontiguousarray(noise, np.int64),
    )


@numba.njit(cache=True, nogil=True)
def _teacher_inputs(audio, lpc, noise):  # pragma: no cover - compiled
    n, steps, order = lpc.shape
    levels = mulaw_levels_compiled(CLASSES)
    signal = np.empty((n, steps), np.int64)
    prediction = np.empty((n, steps), np.int64)
    excitation = np.empty((n, steps), np.int64)
    target = np.empty((n, steps), np.int64)
    made = np.empty(order + steps, np.float32)
    for b in range(n):
        made[:order] = audio[b, :order]
        previous = _encode(0.0)
        for t in range(steps):
            p = np.float32(0)
            for i in range(order):
                p += lpc[b, t, i] * made[order + t - 1 - i]
            e = _encode(audio[b, order + t] - p)
            signal[b, t] = _encode(made[order + t - 1])
            prediction[b, t] = _encode(p)
            excitation[b, t] = previous
            target[b, t] = e
            noisy = min(max(e + noise[b, t], 0), MU)
            made[order + t] = min(max(p + levels[noisy], np.float32(-1)), np.float32(1))
            previous = noisy
    return signal, prediction, excitation, target


@dataclass
class LPCWeights:
    """The GRU and output layers as contiguous float32 arrays laid out for the kernel."""

    tables: np.ndarray  # (3, 256, 3H): input gates for s[t-1], p[t], e[t-1] by mu-law index
    w_hh: np.ndarray  # (H, 3H)
    b_hh: np.ndarray  # (3H,)
    w1: np.ndarray  # (H, fc)
    b1: np.ndarray  # (fc,)
    w2: np.ndarray  # (fc, 256)
    b2: np.ndarray  # (256,)

    @classmethod
    def from_model(cls, model: torch.nn.Module) -> LPCWeights:
        def array(tensor: torch.Tensor) -> np.ndarray:
            return np.ascontiguousarray(tensor.detach().float().cpu().numpy())

        return cls(
            tables=array(model.input_tables()),
            w_hh=array(model.rnn.weight_hh_l0.T),
            b_hh=array(model.rnn.bias_hh_l0),
            w1=array(model.fc.weight.T),
            b1=array(model.fc.bias),
            w2=array(model.out.weight.T),
            b2=array(model.out.bias),
        )


def generate(
    gates: np.ndarray,
    lpc: np.ndarray,
    hop: int,
    weights: LPCWeights,
    uniforms: np.ndarray,
    temperature: float = 1.0,
) -> np.ndarray:
    """Samples (folds, steps) from ``gates`` (folds, frames, 3H) (``LPCNet.frame_gates``), ``lpc`` (folds,
    frames, order) and ``uniforms`` (folds, steps) in [0, 1). Runs without the GIL: threads can split the
    folds."""
    w = weights
    return _generate(
        np.ascontiguousarray(gates, np.float32),
        np.ascontiguousarray(lpc, np.float32),
        hop,
        w.tables,
        w.w_hh,
        w.b_hh,
        w.w1,
        w.b1,
        w.w2,
        w.b2,
        np.ascontiguousarray(uniforms, np.float32),
        np.float32(1.0 / temperature),
    )


@numba.njit(cache=True, fastmath=True, nogil=True)
def _generate(gates, lpc, hop, tables, w_hh, b_hh, w1, b1, w2, b2, uniforms, inv_temp):  # pragma: no cover
    folds, frames, width = gates.shape
    order = lpc.shape[2]
    hidden = width // 3
    fc = w1.shape[1]
    steps = uniforms.shape[1]
    levels = mulaw_levels_compiled(CLASSES)
    h = np.zeros((folds, hidden), np.float32)
    made = np.zeros((folds, order + steps), np.float32)
    previous = np.full(folds, _encode(0.0), np.int64)
    gi = np.empty((folds, width), np.float32)
    gh = np.empty((folds, width), np.float32)
    o1 = np.empty((folds, fc), np.float32)
    logits = np.empty((folds, CLASSES), np.float32)
    predictions = np.empty(folds, np.float32)
    size = max(width, CLASSES)
    v = np.empty(size, np.float32)  # scratch for the vectorised exp()
    e = np.empty(size, np.float32)
    bits = np.empty(size, np.int32)
    half = hop // 2
    for t in range(steps):
        f0 = t // hop
        a = np.float32((t - f0 * hop) / hop)
        f1 = min(f0 + 1, frames - 1)
        f0 = min(f0, frames - 1)
        fl = min((t + half) // hop, frames - 1)  # the predictor of the nearest frame centre
        for b in range(folds):
            p = np.float32(0)
            for i in range(order):
                p += lpc[b, fl, i] * made[b, order + t - 1 - i]
            predictions[b] = p
            s_index, p_index = _encode(made[b, order + t - 1]), _encode(p)
            for g in range(width):
                gi[b, g] = (
                    (1 - a) * gates[b, f0, g]
                    + a * gates[b, f1, g]
                    + tables[0, s_index, g]
                    + tables[1, p_index, g]
                    + tables[2, previous[b], g]
                )
        np.dot(h, w_hh, gh)
        for b in range(folds):
            gru_update(gi[b], gh[b], b_hh, h[b], v, e, bits)
        np.dot(h, w1, o1)
        for b in range(folds):
            for i in range(fc):
                o1[b, i] = max(o1[b, i] + b1[i], 0)
        np.dot(o1, w2, logits)
        for b in range(folds):
            index = sample_index(logits[b], b2, inv_temp, uniforms[b, t], v, e, bits)
            previous[b] = index
            made[b, order + t] = min(max(predictions[b] + levels[index], np.float32(-1)), np.float32(1))
    return made[:, order:].copy()
