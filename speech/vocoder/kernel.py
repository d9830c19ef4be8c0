"""The sample loop, compiled with numba: one GRU step per band-rate sample for a batch of folds at once.

Everything that does not depend on the previous sample is done before the loop: the conditioning is
projected through the GRU's input weights once per frame (``VocoderModel.frame_gates``) and interpolated
per step; the uniform random numbers for sampling come in as an array, so a seed fixes the output. Per step
and fold the loop costs the recurrent matrix (hidden x 3 hidden), the output layers (hidden x bands*fc and
fc x classes per band) and the sampling. Matrix products go through BLAS (``np.dot``) with the folds as the batch.

:func:`reference_generate` is the same computation step by step in PyTorch, for the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import torch

# Classes whose logit is this far (in nats) under the best one get probability 0: it skips their exp();
# the mass dropped is under 256 * e^-16 ~ 3e-5 of the total.
CUTOFF = -16.0


@dataclass
class Weights:
    """The GRU and output layers as contiguous float32 arrays laid out for the kernel."""

    w_x: np.ndarray  # (bands, 3H): previous band samples -> gates
    w_hh: np.ndarray  # (H, 3H)
    b_hh: np.ndarray  # (3H,)
    w1: np.ndarray  # (H, bands * fc)
    b1: np.ndarray  # (bands * fc,)
    w2: np.ndarray  # (bands, fc, classes)
    b2: np.ndarray  # (bands, classes)
    levels: np.ndarray  # (classes,) sample value of each class

    @classmethod
    def from_model(cls, model: torch.nn.Module) -> Weights:
        cond = model.config.cond

        def array(tensor: torch.Tensor) -> np.ndarray:
            return np.ascontiguousarray(tensor.detach().float().cpu().numpy())

        w_ih = model.rnn.weight_ih_l0
        return cls(
            w_x=array(w_ih[:, cond:].T),
            w_hh=array(model.rnn.weight_hh_l0.T),
            b_hh=array(model.rnn.bias_hh_l0),
            w1=array(model.fc.weight.T),
            b1=array(model.fc.bias),
            w2=array(model.out_weight.transpose(1, 2)),
            b2=array(model.out_bias),
            levels=array(model.levels),
        )


def generate(
    gates: np.ndarray, steps_per_frame: int, weights: Weights, uniforms: np.ndarray, temperature: float = 1.0
) -> np.ndarray:
    """Sample (folds, steps, bands) class indices; ``gates`` (folds, frames, 3H) from
    ``VocoderModel.frame_gates`` and ``uniforms`` (folds, steps, bands) in [0, 1). Runs without the GIL:
    threads can split the folds."""
    w = weights
    return _generate(
        np.ascontiguousarray(gates, dtype=np.float32),
        steps_per_frame,
        w.w_x,
        w.w_hh,
        w.b_hh,
        w.w1,
        w.b1,
        w.w2,
        w.b2,
        np.ascontiguousarray(uniforms, dtype=np.float32),
        np.float32(1.0 / temperature),
    )


@numba.njit(cache=True, fastmath=True, nogil=True)
def _generate(gates, spf, w_x, w_hh, b_hh, w1, b1, w2, b2, uniforms, inv_temp):  # pragma: no cover - compiled
    folds, frames, width = gates.shape
    hidden = width // 3
    bands, fc, classes = w2.shape
    steps = uniforms.shape[1]
    levels = mulaw_levels_compiled(classes)
    h = np.zeros((folds, hidden), np.float32)
    x = np.zeros((folds, bands), np.float32)
    gi = np.empty((folds, width), np.float32)
    gh = np.empty((folds, width), np.float32)
    o1 = np.empty((folds, bands * fc), np.float32)
    part = np.empty((bands, folds, fc), np.float32)
    logits = np.empty((folds, classes), np.float32)
    size = max(width, classes)
    v = np.empty(size, np.float32)  # scratch for the vectorised exp()
    e = np.empty(size, np.float32)
    bits = np.empty(size, np.int32)
    out = np.empty((folds, steps, bands), np.int32)
    for t in range(steps):
        f0 = t // spf
        a = np.float32((t - f0 * spf) / spf)
        f1 = min(f0 + 1, frames - 1)
        f0 = min(f0, frames - 1)
        for b in range(folds):  # input gates: interpolated frame projections + previous samples
            for g in range(width):
                gi[b, g] = (1 - a) * gates[b, f0, g] + a * gates[b, f1, g]
            for k in range(bands):
                xk = x[b, k]
                for g in range(width):
                    gi[b, g] += xk * w_x[k, g]
        np.dot(h, w_hh, gh)
        for b in range(folds):
            gru_update(gi[b], gh[b], b_hh, h[b], v, e, bits)
        np.dot(h, w1, o1)
        for b in range(folds):
            for k in range(bands):
                for i in range(fc):
                    part[k, b, i] = max(o1[b, k * fc + i] + b1[k * fc + i], 0)
        for k in range(bands):
            np.dot(part[k], w2[k], logits)
            for b in range(folds):
                index = sample_index(logits[b], b2[k], inv_temp, uniforms[b, t, k], v, e, bits)
                out[b, t, k] = index
                x[b, k] = levels[index]
    return out


@numba.njit(inline="always", fastmath=True)
def gru_update(gi, gh, b_hh, h, v, e, bits):  # pragma: no cover - compiled
    """One fold's GRU cell in place on ``h`` (PyTorch's gate order and formula), from its input gates ``gi``
    and recurrent products ``gh`` (3H each, without b_hh); ``v``, ``e``, ``bits`` are scratch."""
    hidden = h.shape[0]
    for j in range(2 * hidden):
        v[j] = -(gi[j] + gh[j] + b_hh[j])
    _exp(v, e, bits, 2 * hidden)
    for j in range(2 * hidden):
        e[j] = 1 / (1 + e[j])  # r, then z
    for j in range(hidden):  # tanh(y) = 2 / (1 + exp(-2y)) - 1
        v[j] = -2 * (gi[2 * hidden + j] + e[j] * (gh[2 * hidden + j] + b_hh[2 * hidden + j]))
    for j in range(hidden):
        v[hidden + j] = e[hidden + j]  # keep z
    _exp(v, e, bits, hidden)
    for j in range(hidden):
        n = 2 / (1 + e[j]) - 1
        z = v[hidden + j]
        h[j] = (1 - z) * n + z * h[j]


@numba.njit(inline="always", fastmath=True)
def sample_index(logits, bias, inv_temp, u, v, e, bits):  # pragma: no cover - compiled
    """Inverse-CDF sampling of a class from softmax((logits + bias) * inv_temp) with the uniform ``u``;
    classes under CUTOFF nats below the best get no mass. ``v``, ``e``, ``bits`` are scratch."""
    classes = logits.shape[0]
    top = logits[0] + bias[0]
    for c in range(classes):
        top = max(top, logits[c] + bias[c])
    for c in range(classes):
        v[c] = (logits[c] + bias[c] - top) * inv_temp
    _exp(v, e, bits, classes)
    total = np.float32(0)
    for c in range(classes):
        e[c] = e[c] if v[c] > CUTOFF else np.float32(0)
        total += e[c]
    threshold = u * total
    acc = np.float32(0)
    for c in range(classes):
        acc += e[c]
        if acc > threshold:
            return c
    return classes - 1


@numba.njit(inline="always", fastmath=True)
def _exp(x, out, bits, n):  # pragma: no cover - compiled
    """out[:n] = exp(x[:n]) to float32 precision in loops LLVM vectorises (numba has no vector libm here):
    exp(x) = 2^k * exp(r), k = round(x / ln 2), |r| <= ln(2) / 2, exp(r) by its degree-6 Taylor polynomial."""
    scale = bits.view(np.float32)
    for i in range(n):
        y = min(max(x[i], np.float32(-87.0)), np.float32(88.0))
        k = np.floor(y * np.float32(1.4426950408889634) + np.float32(0.5))
        r = y - k * np.float32(0.6931471805599453)
        p = np.float32(1 / 720)
        p = p * r + np.float32(1 / 120)
        p = p * r + np.float32(1 / 24)
        p = p * r + np.float32(1 / 6)
        p = p * r + np.float32(0.5)
        p = p * r + np.float32(1)
        out[i] = p * r + np.float32(1)
        bits[i] = (np.int32(k) + 127) << 23
    for i in range(n):
        out[i] *= scale[i]


@numba.njit(cache=True)
def mulaw_levels_compiled(classes):  # pragma: no cover - compiled; equals speech.models.vocoder.mulaw_levels
    mu = classes - 1
    levels = np.empty(classes, np.float32)
    for i in range(classes):
        y = i / mu * 2 - 1
        levels[i] = np.float32(math.copysign((math.pow(1 + mu, abs(y)) - 1) / mu, y))
    return levels


@torch.no_grad()
def reference_generate(
    model: torch.nn.Module, cond: torch.Tensor, uniforms: torch.Tensor, temperature: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The kernel's computation as a plain PyTorch loop over steps (slow; for tests): ``cond`` (folds,
    frames, cond), ``uniforms`` (folds, steps, bands) -> sampled indices (folds, steps, bands) and the
    logits they were drawn from (folds, steps, bands, classes)."""
    from speech.models.vocoder import interpolate_frames

    c = model.config
    folds, steps, bands = uniforms.shape
    up = interpolate_frames(cond, c.steps_per_frame, steps)
    cell = torch.nn.GRUCell(c.cond + bands, c.hidden)
    cell.load_state_dict(
        {k.removesuffix("_l0"): v for k, v in model.rnn.state_dict().items() if k.endswith("_l0")}
    )
    h = torch.zeros(folds, c.hidden)
    x = torch.zeros(folds, bands)
    indices, all_logits = [], []
    for t in range(steps):
        h = cell(torch.cat([up[:, t], x], -1), h)
        o = torch.relu(model.fc(h)).unflatten(-1, (bands, c.fc))
        logits = torch.einsum("bnf,ncf->bnc", o, model.out_weight) + model.out_bias
        s = (logits - logits.amax(-1, keepdim=True)) / temperature
        p = torch.where(s > CUTOFF, s.exp(), torch.zeros_like(s))
        cdf = p.double().cumsum(-1)
        index = (cdf <= (uniforms[:, t].double() * cdf[..., -1])[..., None]).sum(-1).clamp(max=c.classes - 1)
        x = model.levels[index]
        indices.append(index)
        all_logits.append(logits)
    return torch.stack(indices, 1), torch.stack(all_logits, 1)
