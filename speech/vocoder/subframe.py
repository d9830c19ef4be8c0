"""Generation with the subframe vocoder (:mod:`speech.models.subframe`): the training loop itself, run under
inference mode on the CPU, over every input at once.

The model is deterministic (it does not sample), so ``seed`` changes nothing. Inputs longer than
``fold_frames`` are cut into pieces (:func:`speech.vocoder.fold`) that run side by side as one batch: a
10 s utterance becomes five 2 s rows of the same 400-steps-a-second loop, about five times faster than one
row. Each piece starts from silence and a zero GRU state, like an utterance's start, and begins
``overlap_frames`` early: the first half of the overlap settles the loop and is dropped, the second is
cross-faded with the previous piece (:func:`speech.vocoder.overlap_add`).

The network's output is then made consistent with its input mel (:mod:`speech.vocoder.consistency`): each
frame's mel-band energies set to the mel's, then ``refine`` Griffin-Lim iterations from the network's phase.
``refine=None`` returns the network's output as it is.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from speech.features import FeatureConfig
from speech.lpc import MelLPC
from speech.models.subframe import SubframeVocoder
from speech.vocoder.base import MelVocoder
from speech.vocoder.consistency import MelConsistency
from speech.vocoder.folding import fold, overlap_add, piece_frames

REFINE_ITERATIONS = 8  # a few suffice from the network's phase (Griffin-Lim from zero phase uses 32-64)


class SubframeGenerator(MelVocoder):
    def __init__(self, model: SubframeVocoder, features: FeatureConfig):
        super().__init__(features)
        self.model = model.eval().cpu()
        self.config = model.config
        self.lpc = MelLPC(features, model.config.order)
        self.consistency = MelConsistency(features)

    def vocode_many(
        self,
        mels: list[np.ndarray],
        seed: int = 0,
        fold_frames: int = 200,
        overlap_frames: int = 10,
        threads: int | None = None,
        refine: int | None = REFINE_ITERATIONS,
        **_,
    ) -> list[np.ndarray]:
        """Waveforms (frames * hop samples each) for several (frames, mels) inputs; ``threads``: PyTorch's
        intra-op threads for this call (default: as they are). Sampling options (``temperature``) do not
        apply: nothing is sampled. ``refine``: Griffin-Lim iterations after the mel match (None: neither)."""
        if threads is None:
            return self._vocode_and_refine(mels, fold_frames, overlap_frames, refine)
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return self._vocode_and_refine(mels, fold_frames, overlap_frames, refine)
        finally:
            torch.set_num_threads(before)

    def _vocode_and_refine(
        self, mels: list[np.ndarray], fold_frames: int, overlap_frames: int, refine: int | None
    ) -> list[np.ndarray]:
        mels = [self.check_mel(mel) for mel in mels]
        outputs = self._vocode_many(mels, fold_frames, overlap_frames)
        if refine is None:
            return outputs
        return [self.consistency(output, mel, refine) for output, mel in zip(outputs, mels, strict=True)]

    @torch.inference_mode()
    def _vocode_many(self, mels: list[np.ndarray], fold_frames: int, overlap_frames: int) -> list[np.ndarray]:
        if not mels:
            return []
        lengths = [len(mel) for mel in mels]
        padded = pad_sequence([torch.from_numpy(mel) for mel in mels], batch_first=True)
        cond = self.model.condition(padded, torch.tensor(lengths))
        # The head's pitch, each input's last frame repeated over its padding (so that a shorter input's
        # source fades out as it would alone).
        own = torch.arange(cond.shape[1]).minimum(torch.tensor(lengths)[:, None] - 1)
        period, voiced = (x.gather(1, own) for x in self.model.head_pitch(cond))
        periods = self.model.lags(period)
        lpc, levels = self.lpc.analyse(padded)
        pieces = fold(lengths, fold_frames, overlap_frames)
        rows, frames = piece_frames(pieces, lengths)
        width = frames.shape[1] - 1
        silence = torch.zeros(len(pieces), self.config.history)
        source = self.model.harmonics(period, voiced)  # over whole inputs, so that the pieces' pulses line up
        if source is not None:
            hop = self.config.hop_length
            source = source.unflatten(1, (-1, hop))[rows, frames[:, :width]].flatten(1, 2)
        generated = self.model(
            cond[rows, frames[:, :width]],
            periods[rows, frames[:, :width]],
            lpc[rows, frames],
            levels[rows, frames],
            (silence, silence),
            source,
        )
        outputs = overlap_add(
            pieces, list(generated.numpy()[..., None]), lengths, self.config.hop_length, overlap_frames
        )
        return [output[:, 0].clip(-1, 1) for output in outputs]
