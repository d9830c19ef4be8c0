"""The LPC vocoder as a training task: teacher-forced cross-entropy of the excitation on random segments.

As for the WaveRNN vocoder (:mod:`speech.tasks.vocoder`, whose validation this task shares), the conditioning
network runs over whole utterances and the GRU over ``loss.segment_frames``-long segments cut at random. The
segments' inputs come from the closed loop of :func:`speech.vocoder.lpc_kernel.teacher_inputs`, with the
predictor computed from the batch's own log-mel frames exactly as generation computes it, and with noise of
a random scale in [0, ``loss.noise``] mu-law steps added to each segment's excitation.

With ``model.pitch``, YIN (:mod:`speech.pitch`) estimates the period of every frame the segments touch: the
F0 head learns it (voicing cross-entropy on all frames, L1 of log2 period on voiced ones, weighted by
``loss.pitch_weight``), and the closed loop takes its long-term lag from it, moved by up to
``loss.period_jitter`` samples so that the GRU tolerates the head's small errors. The loop then starts one
longest period before the segment, so that e[t-T] exists from the segment's first sample. Validation's loss
is the excitation's cross-entropy alone, comparable with and without pitch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from speech.config import ExperimentConfig
from speech.data.batching import Batch
from speech.lpc import MelLPC, sample_frames
from speech.models.lpcnet import LPCNet
from speech.models.vocoder import interpolate_frames
from speech.pitch import estimate_pitch, head_loss, lag_range
from speech.tasks.vocoder import VocoderTask
from speech.vocoder.lpc_kernel import teacher_inputs


class LPCNetTask(VocoderTask):
    name = "lpc_vocoder"

    def __init__(self, config: ExperimentConfig):
        super().__init__(config)
        self.lpc = MelLPC(config.features, config.model.order)
        self.lags = lag_range(config.features.sample_rate)

    def initialize(self, model: LPCNet, source: LPCNet) -> None:
        """As the base task; a model with pitch may also start from one without: every shared weight is
        copied and the GRU's weights for the new input start at zero, so the grown model first computes
        exactly what the old one did and learns to use e[t-T] from there (its F0 head starts untrained)."""
        if not (model.config.pitch and not source.config.pitch):
            return super().initialize(model, source)
        if vars(model.config) != {**vars(source.config), "pitch": True}:
            raise ValueError("the models differ in more than pitch")
        state = source.state_dict()
        old = state["rnn.weight_ih_l0"]
        grown = torch.zeros_like(model.rnn.weight_ih_l0)
        grown[:, : old.shape[1]] = old  # the new input's columns come last (LPCNet.inputs)
        state["rnn.weight_ih_l0"] = grown
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or any(not key.startswith("pitch_head.") for key in missing):
            raise ValueError(f"cannot grow: missing {missing}, unexpected {unexpected}")

    def segment_loss(self, model: LPCNet, batch: Batch, generator: torch.Generator | None = None) -> Tensor:
        return self.segment_terms(model, batch, generator)[0]

    def loss(self, model: LPCNet, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        excitation, pitch = self.segment_terms(model, batch)
        if pitch is None:
            return excitation, {}
        return excitation + self.config.loss.pitch_weight * pitch, {
            "excitation": excitation.item(),
            "pitch": pitch.item(),
        }

    def segment_terms(
        self, model: LPCNet, batch: Batch, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """The excitation's cross-entropy on the batch's random segments, and the F0 head's loss on their
        frames (None without pitch)."""
        c, loss = model.config, self.config.loss
        hop, frames, order = c.hop_length, loss.segment_frames, c.order
        steps = frames * hop
        history = order + (self.lags[1] if c.pitch else 0)
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

        # Every sample of the loop, history included, takes the predictor (and lag) of its nearest frame.
        positions = starts[:, None] * hop + torch.arange(-history, steps, device=device)
        offsets = sample_frames(history + steps, hop, frames + 1, first=-history).to(device)
        nearest = (starts[:, None] + offsets).clamp_min(0).minimum(last)
        lpc = predictors[rows[:, None], nearest]
        inside = (positions >= 0) & (positions < batch.audio.shape[1])
        audio = batch.audio.to(device)[rows[:, None], positions.clamp(0, batch.audio.shape[1] - 1)] * inside
        scale = torch.rand(len(rows), 1, generator=generator) * loss.noise
        laplace = torch.distributions.Laplace(0.0, 1.0).icdf(
            torch.rand(len(rows), history + steps, generator=generator).clamp(1e-6, 1 - 1e-6)
        )
        noise = (laplace * scale).round().long()

        periods = torch.zeros(positions.shape, dtype=torch.long)
        pitch_loss = None
        if c.pitch:
            periods, pitch_loss = self.periods_and_pitch_loss(model, cond, batch, rows, nearest, generator)

        inputs = teacher_inputs(
            audio.cpu().numpy(), lpc.cpu().numpy(), noise.numpy(), periods.numpy(), history
        )
        signal, prediction, excitation, past, target = (torch.from_numpy(x).to(device) for x in inputs)

        logits = model(up, signal, prediction, excitation, past if c.pitch else None)
        with torch.autocast(logits.device.type, enabled=False):
            nll = F.cross_entropy(logits.float().flatten(0, 1), target.flatten(), reduction="none")
        mask = (positions[:, history:] < lengths[rows, None] * hop).flatten().float()
        return (nll * mask).sum() / mask.sum().clamp_min(1), pitch_loss

    def periods_and_pitch_loss(
        self,
        model: LPCNet,
        cond: Tensor,
        batch: Batch,
        rows: Tensor,
        nearest: Tensor,
        generator: torch.Generator | None,
    ) -> tuple[Tensor, Tensor]:
        """Each loop sample's long-term lag (YIN's period of its nearest frame, jittered), and the F0 head's
        loss on the frames the segments' loop touches."""
        hop, jitter = model.config.hop_length, self.config.loss.period_jitter
        first = nearest[:, 0]  # the earliest frame each segment's loop reads
        span = int((nearest - first[:, None]).max()) + 1
        frames = (first[:, None] + torch.arange(span, device=first.device)).minimum(nearest[:, -1:])
        # Rows repeat each utterance segments_per_utterance times: estimate on each utterance once.
        utterances = len(batch.lengths)
        centres = (frames * hop).reshape(utterances, -1).cpu().numpy()
        estimate = estimate_pitch(
            batch.audio.float().cpu().numpy(), centres, self.config.features.sample_rate
        )
        period = torch.from_numpy(estimate.period).float().reshape(frames.shape)
        voiced = torch.from_numpy(estimate.voiced).reshape(frames.shape)

        log_period, voicing = model.pitch(cond[rows[:, None], frames])
        loss = head_loss(log_period, voicing, period, voiced)

        offsets = torch.randint(-jitter, jitter + 1, nearest.shape, generator=generator) if jitter else 0
        lag = period.round().long().gather(1, (nearest - first[:, None]).cpu()) + offsets
        return lag.clamp(*self.lags), loss

    @torch.no_grad()
    def evaluate(self, model: LPCNet, batches: Iterable[Batch]) -> tuple[dict[str, float], dict[str, Any]]:
        """The shared validation, and with pitch how the F0 head does on every validation frame against
        YIN (:class:`~speech.pitch.PitchErrors`)."""
        batches = list(batches)
        metrics, media = super().evaluate(model, batches)
        if not model.config.pitch:
            return metrics, media
        metrics.update(self.pitch_errors(model, batches))
        return metrics, media
