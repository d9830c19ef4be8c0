"""The subframe vocoder as a training task: segments run free from the real signal before them, scored by a
multi-resolution spectral loss, plus the F0 head's loss on the F0 reference: YIN's estimates on each batch,
or the corpus's pYIN tracks (``loss.pitch_tracks``).

The conditioning runs over whole utterances (as in generation); each segment of ``loss.segment_frames``
frames starts from the real waveform and its LPC residual before it (the loop's history), takes its lags
(jittered) and harmonic source from the reference (:mod:`speech.pitch`) and its filters and levels from the mel
(:meth:`speech.lpc.MelLPC.analyse`), and generates its samples from its own output from there on. Samples
past an utterance's end are zeroed in both output and target. Validation reports the same spectral loss on
fixed segments, the F0 head's errors, and one utterance generated from its mel (as every vocoder task).

The adversarial stage (``loss.adversarial_weight`` / ``loss.feature_weight``, conf/vocoder/subframe_gan.yaml)
adds a critic's score (spectrogram or waveform) and feature matching on the same segments; the trainer trains the critic
on each micro-batch's segments right after the model's loss on them (:meth:`critic_loss`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

from speech.config import ExperimentConfig
from speech.data.batching import Batch
from speech.lpc import MelLPC, sample_frames
from speech.models.critic import SpectrogramCritic, WaveformCritic, critic_loss, generator_terms
from speech.models.subframe import SubframeVocoder
from speech.pitch import head_loss, lag_range
from speech.tasks.vocoder import VocoderTask


def spectral_loss(output: Tensor, target: Tensor, fft_sizes: list[int]) -> Tensor:
    """Spectral convergence plus mean log-magnitude L1 distance, averaged over Hann-windowed STFTs of each
    size (hop a quarter of it): long windows resolve the harmonics, short ones the onsets."""
    total = output.new_zeros(())
    for size in fft_sizes:
        ours, theirs = (_magnitude(x, size) for x in (output, target))
        convergence = torch.linalg.vector_norm(ours - theirs) / torch.linalg.vector_norm(theirs).clamp_min(
            1e-7
        )
        total = total + convergence + (ours.log() - theirs.log()).abs().mean()
    return total / len(fft_sizes)


def _magnitude(x: Tensor, size: int) -> Tensor:
    window = torch.hann_window(size, device=x.device)
    return torch.stft(x.float(), size, size // 4, window=window, return_complex=True).abs().clamp_min(1e-7)


class SubframeVocoderTask(VocoderTask):
    name = "subframe_vocoder"

    def __init__(self, config: ExperimentConfig):
        shortest, longest = lag_range(config.features.sample_rate)
        config.model = dataclasses.replace(config.model, min_period=shortest, max_period=longest)
        super().__init__(config)
        self.lpc = MelLPC(config.features, config.model.order)

    def build_critic(self) -> nn.Module | None:
        """The adversarial stage's critic, when ``loss.adversarial_weight`` or ``loss.feature_weight`` is set."""
        loss = self.config.loss
        if loss.adversarial_weight == 0 and loss.feature_weight == 0:
            return None
        if loss.critic == "waveform":
            self.critic = WaveformCritic(loss.critic_periods, loss.critic_channels)
        else:
            self.critic = SpectrogramCritic(loss.critic_fft_sizes, loss.critic_channels)
        return self.critic

    def loss(self, model: SubframeVocoder, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        output, target, pitch = self.segment_terms(model, batch)
        spectral = spectral_loss(output, target, self.config.loss.fft_sizes)
        total = spectral + self.config.loss.pitch_weight * pitch
        logged = {"spectral": spectral.item(), "pitch": pitch.item()}
        if self.critic is not None:
            adversarial, matching = generator_terms(self.critic, target, output)
            total = total + self.config.loss.adversarial_weight * adversarial
            total = total + self.config.loss.feature_weight * matching
            logged.update(adversarial=adversarial.item(), feature_matching=matching.item())
            self.last_segments = (target, output.detach())
        return total, logged

    def critic_loss(self, critic: nn.Module) -> Tensor:
        """The critic's loss on the real and generated segments of the last :meth:`loss`."""
        return critic_loss(critic, *self.last_segments)

    def segment_loss(
        self, model: SubframeVocoder, batch: Batch, generator: torch.Generator | None = None
    ) -> Tensor:
        output, target, _ = self.segment_terms(model, batch, generator)
        return spectral_loss(output, target, self.config.loss.fft_sizes)

    def segment_terms(
        self, model: SubframeVocoder, batch: Batch, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """The batch's free-running segments and their real audio (N, samples; zero past each utterance's
        end), and the F0 head's loss on their frames."""
        c, loss = model.config, self.config.loss
        hop, frames, history = c.hop_length, loss.segment_frames, c.history
        device = batch.features.device
        lengths = batch.lengths.to(device)
        cond = model.condition(batch.features, batch.lengths)
        lpc, levels = self.lpc.to(device).analyse(batch.features)

        rows = torch.arange(len(lengths), device=device).repeat_interleave(loss.segments_per_utterance)
        room = (lengths[rows] - frames).clamp_min(0) + 1
        starts = (torch.rand(len(rows), generator=generator).to(device) * room).long()
        last = lengths[rows, None] - 1
        frame_index = (starts[:, None] + torch.arange(frames + 1, device=device)).minimum(last)
        inside_frames = starts[:, None] + torch.arange(frames, device=device) < lengths[rows, None]

        # The waveform from ``history + order`` samples before each segment (zeros before the utterance).
        audio = batch.audio.to(device)
        positions = starts[:, None] * hop + torch.arange(-history - c.order, frames * hop, device=device)
        valid = (positions >= 0) & (positions < lengths[rows, None] * hop)
        signal = audio[rows[:, None], positions.clamp(0, audio.shape[1] - 1)] * valid
        # The excitation before the segment: the residual under each sample's nearest frame's predictor.
        nearest = (
            (starts[:, None] + sample_frames(history, hop, frames + 1, first=-history).to(device))
            .clamp(0)
            .minimum(last)
        )
        past_lpc = lpc[rows[:, None], nearest]  # (N, history, order)
        taps = torch.stack(
            [signal[:, c.order - i : c.order - i + history] for i in range(1, c.order + 1)], -1
        )
        past_signal = signal[:, c.order : c.order + history]
        past_excitation = past_signal - (past_lpc * taps).sum(-1)

        period, voiced = self.pitch_targets(batch, rows, starts, frames)
        jitter = loss.period_jitter
        offsets = torch.randint(-jitter, jitter + 1, period.shape, generator=generator) if jitter else 0
        lags = model.lags(period + offsets).to(device)
        # The reference's pitch, unjittered: the target's own harmonics.
        source = model.harmonics(period.to(device), voiced.to(device))
        segment_cond = cond[rows[:, None], frame_index[:, :frames]]
        output = model(
            segment_cond,
            lags,
            lpc[rows[:, None], frame_index],
            levels[rows[:, None], frame_index],
            (past_signal, past_excitation),
            source,
        )
        mask = valid[:, history + c.order :]
        log_period, voicing = model.pitch(segment_cond)
        inside = inside_frames.cpu()
        pitch = head_loss(log_period[inside_frames], voicing[inside_frames], period[inside], voiced[inside])
        return output * mask, signal[:, history + c.order :], pitch

    def pitch_targets(self, batch: Batch, rows: Tensor, starts: Tensor, frames: int) -> tuple[Tensor, Tensor]:
        """The reference period and voicing (N, frames) of each segment's frames (YIN's, or the corpus's
        pitch tracks), each measured at the middle of the samples the frame's subframes generate."""
        # Rows are utterance-major (each utterance's segments together): one row of frames per utterance.
        indices = (starts[:, None].cpu() + torch.arange(frames)).reshape(len(batch.lengths), -1)
        estimate = self.reference_pitch(batch, indices.numpy(), self.config.features.hop_length // 2)
        period = torch.from_numpy(estimate.period).float().reshape(len(rows), frames)
        voiced = torch.from_numpy(estimate.voiced).reshape(len(rows), frames)
        return period, voiced

    @torch.no_grad()
    def evaluate(
        self, model: SubframeVocoder, batches: Iterable[Batch]
    ) -> tuple[dict[str, float], dict[str, Any]]:
        """The shared validation, and the F0 head's errors on every validation frame against the reference."""
        batches = list(batches)
        metrics, media = super().evaluate(model, batches)
        metrics.update(self.pitch_errors(model, batches, centre_offset=model.config.hop_length // 2))
        return metrics, media
