"""The vocoder API: log-mel frames (or audio, for copy synthesis) in, 16 kHz speech out, fast on a CPU, and
on a GPU for many inputs at once.

    vocoder = Vocoder.load("exp/vocoder/best")
    samples, rate = vocoder.vocode(np.load("utt.npy"))        # (frames, mels) as FeatureExtractor makes them
    samples, rate = vocoder.copy_synthesis("talk.wav")         # audio -> mel -> audio

Long inputs are folded: cut into pieces of ``fold_frames`` frames, each generated with ``overlap_frames``
frames of the previous piece before it (the first half warms the GRU up and is dropped, the second half is
cross-faded with equal power), and all pieces of all inputs run as one batch through the compiled sample loop
(:mod:`speech.vocoder.kernel`), split over ``threads``, or on a GPU through CUDA graphs
(:mod:`speech.vocoder.graphed`). The random numbers are drawn per piece from ``seed``,
so the same input, seed and fold settings give the same samples whatever the thread count.

:func:`load_vocoder` loads any trained vocoder folder, the subframe vocoder (:mod:`speech.vocoder.subframe`)
included.
"""

from __future__ import annotations

import copy
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch.nn.utils.rnn import pad_sequence

from speech.device import resolve_device
from speech.features import FeatureConfig
from speech.lpc import MelLPC
from speech.models.lpcnet import LPCNet
from speech.models.subframe import SubframeVocoder
from speech.models.vocoder import VocoderModel
from speech.pitch import lag_range
from speech.registry import load_model
from speech.vocoder import lpc_kernel
from speech.vocoder.base import MelVocoder, VocoderError
from speech.vocoder.folding import fold, overlap_add, piece_frames
from speech.vocoder.graphed import FrameLoop
from speech.vocoder.kernel import Weights, generate
from speech.vocoder.subframe import SubframeGenerator

__all__ = ["Vocoder", "VocoderError", "fold", "load_vocoder", "overlap_add", "vocoder_for"]

TASKS = ("subframe_vocoder", "lpc_vocoder", "vocoder")  # every trained vocoder a folder may hold


class Vocoder(MelVocoder):
    """Either vocoder: the WaveRNN (:mod:`speech.models.vocoder`; ``device="cuda"`` generates on a GPU through
    :mod:`speech.vocoder.graphed`: give it many inputs at once) or the LPC vocoder
    (:mod:`speech.models.lpcnet`, whose sample loop runs on the CPU whatever ``device`` says)."""

    def __init__(self, model: VocoderModel | LPCNet, features: FeatureConfig, device: str = "cpu"):
        self.device = resolve_device("cpu" if isinstance(model, LPCNet) else device)
        # The model, with its output filters, stays on the CPU (torchaudio's lfilter is serial on a GPU);
        # the conditioning network runs on the generating device.
        self.model = model.eval().cpu()
        self.conditioner = (
            self.model if self.device.type == "cpu" else copy.deepcopy(self.model).to(self.device)
        )
        super().__init__(features)
        self.config = model.config
        self.lpc = MelLPC(features, model.config.order) if isinstance(model, LPCNet) else None
        self.weights = (lpc_kernel.LPCWeights if self.lpc else Weights).from_model(self.model)
        self._loops: dict[int, FrameLoop] = {}  # by batch size: a CUDA graph is captured for one shape

    @classmethod
    def load(cls, folder: str | os.PathLike, device: str = "cpu") -> Vocoder:
        """A model folder as ``speech train conf/vocoder/...`` exports it: model.safetensors + config.json."""
        loaded = load_model(folder, ("vocoder", "lpc_vocoder"), "a sample-rate vocoder")
        return cls(loaded.model, loaded.features, device)

    @torch.inference_mode()
    def vocode_many(
        self,
        mels: list[np.ndarray],
        seed: int = 0,
        temperature: float = 1.0,
        fold_frames: int = 50,
        overlap_frames: int = 4,
        threads: int | None = None,
        refine: int | None = None,
    ) -> list[np.ndarray]:
        """Waveforms (frames * hop samples each) for several (frames, mels) inputs, all generated as one
        batch of folds. ``refine``, the subframe vocoder's consistency step, does not apply: these vocoders
        sample, and their outputs are left as they are."""
        if not temperature > 0:
            raise VocoderError(f"temperature must be positive, got {temperature}")
        mels = [self.check_mel(mel) for mel in mels]
        if not mels:
            return []
        spf, lengths = self.config.steps_per_frame, [len(mel) for mel in mels]
        gates, periods = self._frame_gates(mels)
        pieces = fold(lengths, fold_frames, overlap_frames)
        rows, frames = piece_frames(pieces, lengths, self.device)
        width = frames.shape[1] - 1
        batch = gates[rows, frames]
        lpc = period = None
        if self.lpc is not None:
            lpc, period = self._frame_lpc(mels)[rows, frames].numpy(), periods[rows, frames].cpu().numpy()
        bands = getattr(self.config, "bands", 1)
        uniforms = np.random.default_rng(seed).random((len(pieces), width * spf, bands), np.float32)
        generated = self._generate(batch, lpc, period, uniforms, temperature, threads)
        values = overlap_add(pieces, list(generated), lengths, spf, overlap_frames)
        return [self.model.waveform(torch.from_numpy(v)[None])[0].clamp(-1, 1).numpy() for v in values]

    def _frame_gates(self, mels: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, frames, 3H) on the vocoder's device: every input conditioned in one padded batch (on a
        GPU, cuDNN's TF32 arithmetic makes these differ slightly from the CPU's, so a seed gives the same
        samples on the same kind of device, not across devices); and (inputs, frames) long-term lags, zero
        for a model without pitch."""
        lengths = torch.tensor([len(mel) for mel in mels])
        padded = pad_sequence([torch.from_numpy(mel) for mel in mels], batch_first=True)
        cond = self.conditioner.condition(padded.to(self.device), lengths)
        if getattr(self.config, "pitch", False):
            periods = self.conditioner.periods(cond, *lag_range(self.features.sample_rate))
        else:
            periods = torch.zeros(cond.shape[:2], dtype=torch.long, device=cond.device)
        return self.conditioner.frame_gates(cond), periods

    def _frame_lpc(self, mels: list[np.ndarray]) -> torch.Tensor:
        """(inputs, frames, order) predictor coefficients of every input, padded."""
        return self.lpc(pad_sequence([torch.from_numpy(mel) for mel in mels], batch_first=True))

    def _generate(
        self,
        gates: torch.Tensor,
        lpc: np.ndarray | None,
        periods: np.ndarray | None,
        uniforms: np.ndarray,
        temperature: float,
        threads: int | None,
    ) -> np.ndarray:
        """(folds, steps, bands) sample values (per band for the WaveRNN, before its synthesis filters)."""
        if self.device.type != "cpu":
            return self.weights.levels[self._generate_on_device(gates, uniforms, temperature)]
        gates = gates.numpy()
        spf = self.config.steps_per_frame

        def run(rows: np.ndarray) -> np.ndarray:
            if lpc is None:
                indices = generate(gates[rows], spf, self.weights, uniforms[rows], temperature)
                return self.weights.levels[indices]
            samples = lpc_kernel.generate(
                gates[rows], lpc[rows], periods[rows], spf, self.weights, uniforms[rows, :, 0], temperature
            )
            return samples[..., None]

        threads = max(1, min(threads or os.cpu_count() or 1, len(gates)))
        chunks = np.array_split(np.arange(len(gates)), threads)
        with threadpool_limits(1, user_api="blas"):  # small products: BLAS threads would only contend
            if threads == 1:
                return run(chunks[0])
            with ThreadPoolExecutor(threads) as pool:  # the kernels release the GIL
                return np.concatenate(list(pool.map(run, chunks)))

    def _generate_on_device(
        self, gates: torch.Tensor, uniforms: np.ndarray, temperature: float
    ) -> np.ndarray:
        """Batches are padded to a power of two (at least 8 folds), so a few captured graphs serve any input."""
        size = max(8, 1 << (len(gates) - 1).bit_length())
        loop = self._loops.get(size)
        if loop is None:
            loop = self._loops[size] = FrameLoop(self.weights, size, self.config.steps_per_frame, self.device)
        folds, padding = len(gates), size - len(gates)
        gates = torch.nn.functional.pad(gates, (0, 0, 0, 0, 0, padding))
        uniforms = torch.from_numpy(np.pad(uniforms, ((0, padding), (0, 0), (0, 0)))).to(self.device)
        return loop.run(gates, uniforms, temperature)[:folds].cpu().numpy()


def load_vocoder(folder: str | os.PathLike, device: str = "cpu") -> MelVocoder:
    """Whichever trained vocoder a model folder holds."""
    loaded = load_model(folder, TASKS, "a vocoder")
    return vocoder_for(loaded.model, loaded.features, device)


def vocoder_for(model: torch.nn.Module, features: FeatureConfig, device: str = "cpu") -> MelVocoder:
    """The generator of a vocoder network: the subframe vocoder's own loop (on the CPU), or the sample-rate
    vocoders' compiled and graphed loops (:class:`Vocoder`)."""
    if isinstance(model, SubframeVocoder):
        return SubframeGenerator(model, features)
    return Vocoder(model, features, device)
