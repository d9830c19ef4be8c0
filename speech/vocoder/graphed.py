"""The sample loop for GPUs: the numba kernel's computation in PyTorch, one frame of steps at a time.

A GRU step for a batch of folds is a dozen small kernels; launched one by one from Python, their launch and
dispatch cost (~100 microseconds a step) would dwarf their run time. On CUDA the steps of one frame are
therefore captured once as a CUDA graph and replayed for every frame: the frame's projected gates and
random numbers are copied into the graph's input buffers, and the GRU state stays in place between
replays. Thousands of folds (many utterances) run as one batch, which is where a GPU's throughput comes
from. On a CPU the same code runs without a graph (for tests; the numba kernel is the fast CPU path).
"""

from __future__ import annotations

import torch
from torch import Tensor

from speech.vocoder.kernel import CUTOFF, Weights


class FrameLoop:
    """Generates ``folds`` sequences in lockstep; ``run`` may be called again for new inputs of that shape."""

    def __init__(self, weights: Weights, folds: int, steps_per_frame: int, device: torch.device | str):
        device = torch.device(device)
        self.w = {
            name: torch.from_numpy(getattr(weights, name)).to(device)
            for name in ("w_x", "w_hh", "b_hh", "w1", "b1", "w2", "b2", "levels")
        }
        hidden, bands = self.w["w_hh"].shape[0], self.w["w_x"].shape[0]
        self.spf, self.hidden, self.bands = steps_per_frame, hidden, bands
        self.inv_temp = torch.ones((), device=device)
        self.h = torch.zeros(folds, hidden, device=device)
        self.x = torch.zeros(folds, bands, device=device)
        self.g0 = torch.zeros(folds, 3 * hidden, device=device)  # this frame's and the next one's gates
        self.g1 = torch.zeros_like(self.g0)
        self.u = torch.zeros(folds, steps_per_frame, bands, device=device)
        self.out = torch.zeros(folds, steps_per_frame, bands, dtype=torch.long, device=device)
        self.graph = self._capture() if device.type == "cuda" else None

    @torch.no_grad()
    def _capture(self) -> torch.cuda.CUDAGraph:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm up outside the graph (lazy initialisation, workspaces)
            self._frame()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._frame()
        return graph

    def _frame(self) -> None:
        """One frame's steps: input gates interpolated between the frame's and the next frame's projections
        plus the previous samples, the GRU cell (PyTorch's gate order), the output layers, and inverse-CDF
        sampling from the tempered softmax, exactly as the numba kernel does."""
        w, hidden, bands = self.w, self.hidden, self.bands
        for j in range(self.spf):
            gi = torch.lerp(self.g0, self.g1, j / self.spf) + self.x @ w["w_x"]
            gh = self.h @ w["w_hh"] + w["b_hh"]
            r = torch.sigmoid(gi[:, :hidden] + gh[:, :hidden])
            z = torch.sigmoid(gi[:, hidden : 2 * hidden] + gh[:, hidden : 2 * hidden])
            n = torch.tanh(gi[:, 2 * hidden :] + r * gh[:, 2 * hidden :])
            self.h.copy_((1 - z) * n + z * self.h)
            o = torch.relu(self.h @ w["w1"] + w["b1"]).unflatten(-1, (bands, -1))
            logits = torch.einsum("bnf,nfc->bnc", o, w["w2"]) + w["b2"]
            s = (logits - logits.amax(-1, keepdim=True)) * self.inv_temp
            cdf = torch.where(s > CUTOFF, s.exp(), 0.0).double().cumsum(-1)
            threshold = self.u[:, j].double() * cdf[..., -1]
            index = (cdf <= threshold[..., None]).sum(-1).clamp(max=w["levels"].numel() - 1)
            self.out[:, j].copy_(index)
            self.x.copy_(w["levels"][index])

    @torch.inference_mode()
    def run(self, gates: Tensor, uniforms: Tensor, temperature: float = 1.0) -> Tensor:
        """(folds, steps, bands) class indices from ``gates`` (folds, frames, 3H), as
        ``VocoderModel.frame_gates`` makes them, and ``uniforms`` (folds, steps, bands) in [0, 1)."""
        folds, steps, _ = uniforms.shape
        frames = -(-steps // self.spf)
        last = gates.shape[1] - 1
        self.inv_temp.fill_(1.0 / temperature)
        self.h.zero_()
        self.x.zero_()
        result = torch.empty(folds, frames * self.spf, self.bands, dtype=torch.long, device=self.out.device)
        for f in range(frames):
            self.g0.copy_(gates[:, min(f, last)])
            self.g1.copy_(gates[:, min(f + 1, last)])
            chunk = uniforms[:, f * self.spf : (f + 1) * self.spf]
            self.u.zero_()
            self.u[:, : chunk.shape[1]].copy_(chunk)
            if self.graph is not None:
                self.graph.replay()
            else:
                self._frame()
            result[:, f * self.spf : (f + 1) * self.spf].copy_(self.out)
        return result[:, :steps]
