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
    audio: np.ndarray, lpc: np.ndarray, noise: np.ndarray, periods: np.ndarray, history: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training inputs and targets for segments: ``audio`` (N, history + S) holds each segment after
    ``history`` preceding samples (at least the predictor's order), ``lpc`` (N, history + S, order) each
    sample's predictor, ``noise`` (N, history + S) integer mu-law steps added to the excitation, ``periods``
    (N, history + S) each sample's long-term lag T (used by models with pitch; 0: none). The loop runs over the
    history too, so that e[t-1] and e[t-T] at the segment's start are what generation would have made.
    Returns, for the S segment samples, the mu-law indices of s[t-1], p[t], e[t-1] and e[t-T] as the loop
    made them, and the target e[t]: the excitation that leads back to the clean sample."""
    return _teacher_inputs(
        np.ascontiguousarray(audio, np.float32),
        np.ascontiguousarray(lpc, np.float32),
        np.ascontiguousarray(noise, np.int64),
        np.ascontiguousarray(periods, np.int64),
        history,
    )


@numba.njit(cache=True, nogil=True)
def _teacher_inputs(audio, lpc, noise, periods, history):  # pragma: no cover - compiled
    n, length, order = lpc.shape
    steps = length - history
    levels = mulaw_levels_compiled(CLASSES)
    signal = np.empty((n, steps), np.int64)
    prediction = np.empty((n, steps), np.int64)
    excitation = np.empty((n, steps), np.int64)
    past = np.empty((n, steps), np.int64)
    target = np.empty((n, steps), np.int64)
    made = np.empty(length, np.float32)
    made_excitation = np.empty(length, np.int64)
    silent = _encode(0.0)
    for b in range(n):
        made[:order] = audio[b, :order]
        made_excitation[:order] = silent  # before the loop starts there is no excitation
        for t in range(order, length):
            p = np.float32(0)
            for i in range(order):
                p += lpc[b, t, i] * made[t - 1 - i]
            e = _encode(audio[b, t] - p)
            if t >= history:
                lag = t - periods[b, t]
                signal[b, t - history] = _encode(made[t - 1])
                prediction[b, t - history] = _encode(p)
                excitation[b, t - history] = made_excitation[t - 1]
                past[b, t - history] = made_excitation[lag] if 0 <= lag < t else silent
                target[b, t - history] = e
            noisy = min(max(e + noise[b, t], 0), MU)
            made[t] = min(max(p + levels[noisy], np.float32(-1)), np.float32(1))
            made_excitation[t] = noisy
    return signal, prediction, excitation, past, target


@dataclass
class LPCWeights:
    """The GRU and output layers as contiguous float32 arrays laid out for the kernel."""

    tables: np.ndarray  # (3 or 4, 256, 3H): input gates for s[t-1], p[t], e[t-1] (, e[t-T]) by mu-law index
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
    periods: np.ndarray,
    hop: int,
    weights: LPCWeights,
    uniforms: np.ndarray,
    temperature: float = 1.0,
) -> np.ndarray:
    """Samples (folds, steps) from ``gates`` (folds, frames, 3H) (``LPCNet.frame_gates``), ``lpc`` (folds,
    frames, order), ``periods`` (folds, frames) (each frame's long-term lag; read only by models with
    pitch, whose tables have a fourth input) and ``uniforms`` (folds, steps) in [0, 1). Runs without the
    GIL: threads can split the folds."""
    w = weights
    return _generate(
        np.ascontiguousarray(gates, np.float32),
        np.ascontiguousarray(lpc, np.float32),
        np.ascontiguousarray(periods, np.int64),
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
def _generate(
    gates, lpc, periods, hop, tables, w_hh, b_hh, w1, b1, w2, b2, uniforms, inv_temp
):  # pragma: no cover
    folds, frames, width = gates.shape
    order = lpc.shape[2]
    hidden = width // 3
    fc = w1.shape[1]
    steps = uniforms.shape[1]
    long_term = tables.shape[0] == 4
    levels = mulaw_levels_compiled(CLASSES)
    silent = _encode(0.0)
    h = np.zeros((folds, hidden), np.float32)
    made = np.zeros((folds, order + steps), np.float32)
    made_excitation = np.empty((folds, steps), np.int64)
    previous = np.full(folds, silent, np.int64)
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
            if long_term:
                lag = t - periods[b, fl]
                past = made_excitation[b, lag] if lag >= 0 else silent
                for g in range(width):
                    gi[b, g] += tables[3, past, g]
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
            made_excitation[b, t] = index
            made[b, order + t] = min(max(predictions[b] + levels[index], np.float32(-1)), np.float32(1))
    return made[:, order:].copy()
