"""The LPC vocoder as a training task: teacher-forced cross-entropy of the excitation on random segments.

As for the WaveRNN vocoder (:mod:`speech.tasks.vocoder`, whose validation this task shares), the conditioning
network runs over whole utterances and the GRU over ``loss.segment_frames``-long segments cut at random. The
segments' inputs come from the closed loop of :func:`speech.vocoder.lpc_kernel.teacher_inputs`, with the
predictor computed from the batch's own log-mel frames exactly as generation computes it, and with noise of
a random scale in [0, ``loss.noise``] mu-law steps added to each segment's excitation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from speech.config import ExperimentConfig
from speech.data.batching import Batch
from speech.lpc import MelLPC, sample_frames
from speech.models.lpcnet import LPCNet
from speech.models.vocoder import interpolate_frames
from speech.tasks.vocoder import VocoderTask
from speech.vocoder.lpc_kernel import teacher_inputs


class LPCNetTask(VocoderTask):
    name = "lpc_vocoder"

    def __init__(self, config: ExperimentConfig):
        super().__init__(config)
        self.lpc = MelLPC(config.features, config.model.order)

    def segment_loss(self, model: LPCNet, batch: Batch, generator: torch.Generator | None = None) -> Tensor:
        c, loss = model.config, self.config.loss
        hop, frames, order = c.hop_length, loss.segment_frames, c.order
        steps = frames * hop
        device = batch.features.device
        lengths = batch.lengths.to(device)
        cond = model.condition(batch.features, batch.lengths)
        predictors = self.lpc.to(device)(batch.features)  # (B, F, order)

        rows = torch.arange(len(lengths), device=device).repeat_interleave(loss.segments_per_utterance)
        room = (lengths[rows] - frames).clamp_min(0) + 1
        starts = (torch.rand(len(rows), generator=generator).to(device) * room).long()
        last = lengths[rows, None] - 1
        frame_index = (starts[:, None] + torch.arange(frames + 1, device=device)).minimum(last)
        up = interpolate_frames(cond[rows[:, None], frame_index], hop, steps)
        nearest = sample_frames(steps, hop, frames + 1).to(device)  # within the segment (never clamped)
        lpc = predictors[rows[:, None], (starts[:, None] + nearest).minimum(last)]

        positions = starts[:, None] * hop + torch.arange(-order, steps, device=device)
        inside = (positions >= 0) & (positions < batch.audio.shape[1])
        audio = batch.audio.to(device)[rows[:, None], positions.clamp(0, batch.audio.shape[1] - 1)] * inside
        scale = torch.rand(len(rows), 1, generator=generator) * loss.noise
        laplace = torch.distributions.Laplace(0.0, 1.0).icdf(
            torch.rand(len(rows), steps, generator=generator).clamp(1e-6, 1 - 1e-6)
        )
        noise = (laplace * scale).round().long()
        inputs = teacher_inputs(audio.cpu().numpy(), lpc.cpu().numpy(), noise.numpy())
        signal, prediction, excitation, target = (torch.from_numpy(x).to(device) for x in inputs)

        logits = model(up, signal, prediction, excitation)
        with torch.autocast(logits.device.type, enabled=False):
            nll = F.cross_entropy(logits.float().flatten(0, 1), target.flatten(), reduction="none")
        mask = (positions[:, order:] < lengths[rows, None] * hop).flatten().float()
        return (nll * mask).sum() / mask.sum().clamp_min(1)
