"""The acoustic model as a training task: teacher-forced mel L1 (before and after the post-net) plus the
duration predictor's MSE on log(1 + frames), on shards whose samples carry ``phonemes`` and ``durations``
(``speech align``, then ``speech shard``).

Validation reports the same terms teacher-forced, then generates the first batch's first utterances freely
from their true durations (``free_mel_l1``, log-mel units) and compares predicted durations with the aligned
ones (``duration_mae``, frames); one generated utterance is logged as an image and as Griffin-Lim audio.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from functools import cached_property
from typing import Any

import jiwer
import torch
from torch import Tensor

from speech.assets import ASR_MODEL
from speech.config import ConfigError, ExperimentConfig
from speech.data.batching import Batch
from speech.errors import SpeechError
from speech.logmel import FeatureConfig
from speech.media import AudioMedia, ImageMedia
from speech.models.padding import lengths_mask
from speech.models.tts import TTSModel
from speech.recognizer import Recognizer
from speech.synthesizer import minimum_frames
from speech.tasks.base import Task
from speech.text.normalize import normalize_text
from speech.text.vocab import PhonemeVocab
from speech.vocoder.griffin_lim import GriffinLim

FREE_RUNNING = 8  # utterances generated without teacher forcing at each validation


def fit_durations(durations: list[int], frames: int) -> list[int]:
    """Make durations sum to ``frames``: the last tokens give or take the difference (a frame or two when the
    audio was resampled differently from when it was aligned)."""
    durations = list(durations)
    difference = frames - sum(durations)
    index = len(durations) - 1
    while difference and index >= 0:
        change = max(difference, -durations[index])
        durations[index] += change
        difference -= change
        index -= 1
    return durations


def frame_shift_problem(frame_shift: float | None, features: FeatureConfig) -> str | None:
    """Why durations counted in frames of ``frame_shift`` seconds do not fit ``features``, or None. (Alignments
    from before frame shifts were recorded carry none and are taken as they are.)"""
    expected = features.hop_length / features.sample_rate
    if frame_shift is None or abs(frame_shift - expected) <= 1e-9:
        return None
    return (
        f"aligned in frames of {1000 * frame_shift:g} ms, but the features' hop is {1000 * expected:g} ms; "
        "align the corpus again (speech align) with these features"
    )


class TTSTask(Task):
    name = "tts"

    def __init__(self, config: ExperimentConfig):
        if config.features.kind != "logmel":
            raise ConfigError(
                f"features.kind: the acoustic model predicts log-mel frames, not {config.features.kind!r}"
            )
        self.vocab = PhonemeVocab.english()
        config.model = dataclasses.replace(
            config.model, vocab_size=len(self.vocab), n_mels=config.features.n_mels
        )
        super().__init__(config)
        self.speaker_ids = {name: i for i, name in enumerate(config.model.speakers)}

    def check_frame_shift(self, utterance: str, frame_shift: float | None) -> None:
        """Durations count feature frames: an alignment made at another hop would silently misplace every
        phoneme (:func:`frame_shift_problem`)."""
        problem = frame_shift_problem(frame_shift, self.config.features)
        if problem:
            raise SpeechError(f"{utterance}: {problem}")

    def inputs(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """Token ids (B, N), token counts (B,), frames per token (B, N) and speaker ids (B,) or None."""
        ids, durations = [], []
        for index, (phonemes, frames) in enumerate(
            zip(batch.phonemes or [], batch.durations or [], strict=True)
        ):
            if not phonemes or frames is None:
                raise SpeechError(
                    f"{batch.ids[index]}: no phonemes and durations; align the corpus (speech align) and shard it"
                )
            self.check_frame_shift(batch.ids[index], (batch.frame_shifts or [None] * len(batch.ids))[index])
            ids.append(torch.tensor(self.vocab.encode(phonemes)))
            durations.append(torch.tensor(fit_durations(frames, int(batch.lengths[index]))))
        if not ids:
            raise SpeechError("a batch without phonemes: align the corpus (speech align) and shard it")
        device = batch.features.device
        pad = torch.nn.utils.rnn.pad_sequence
        speakers = None
        if self.speaker_ids:
            unknown = sorted({s for s in batch.speakers if s not in self.speaker_ids})
            if unknown:
                raise SpeechError(f"speaker {unknown[0]!r} is not in model.speakers of the config")
            speakers = torch.tensor([self.speaker_ids[s] for s in batch.speakers], device=device)
        return (
            pad(ids, batch_first=True).to(device),
            torch.tensor([len(i) for i in ids]),
            pad(durations, batch_first=True).to(device),
            speakers,
        )

    def terms(self, model: TTSModel, batch: Batch) -> dict[str, Tensor]:
        tokens, lengths, durations, speakers = self.inputs(batch)
        before, after, log_durations, frame_lengths = model(
            tokens, lengths, durations, batch.features, speakers
        )
        target = model.normalize(batch.features)
        frame_mask = lengths_mask(frame_lengths, target.shape[1], target.device)[..., None].float()
        token_mask = lengths_mask(lengths, tokens.shape[1], tokens.device).float()
        frames = frame_mask.sum() * target.shape[-1]
        with torch.autocast(target.device.type, enabled=False):
            duration_error = (log_durations.float() - torch.log1p(durations.float())).square()
            return {
                "mel_l1": ((before.float() - target).abs() * frame_mask).sum() / frames,
                "postnet_l1": ((after.float() - target).abs() * frame_mask).sum() / frames,
                "duration_mse": (duration_error * token_mask).sum() / token_mask.sum(),
            }

    def loss(self, model: TTSModel, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        terms = self.terms(model, batch)
        weight = self.config.loss.duration_weight
        loss = terms["mel_l1"] + terms["postnet_l1"] + weight * terms["duration_mse"]
        return loss, {key: value.item() for key, value in terms.items()}

    @torch.no_grad()
    def evaluate(self, model: TTSModel, batches: Iterable[Batch]) -> tuple[dict[str, float], dict[str, Any]]:
        totals: dict[str, float] = {}
        count, first = 0, None
        for batch in batches:
            first = batch if first is None else first
            loss, terms = self.loss(model, batch)
            for key, value in {"loss": loss.item(), **terms}.items():
                totals[key] = totals.get(key, 0.0) + value * len(batch.ids)
            count += len(batch.ids)
        metrics = {key: value / max(count, 1) for key, value in totals.items()}
        media: dict[str, Any] = {}
        if first is not None:
            metrics_free, media = self.free_running(model, first)
            metrics.update(metrics_free)
        return metrics, media

    def free_running(self, model: TTSModel, batch: Batch) -> tuple[dict[str, float], dict[str, Any]]:
        """Generation from the true durations for a few utterances: how far the frames drift without teacher
        forcing, and how far predicted durations are from the aligned ones."""
        tokens, lengths, durations, speakers = self.inputs(batch)
        keep = slice(0, FREE_RUNNING)
        tokens, lengths, durations = tokens[keep], lengths[keep], durations[keep]
        speakers = speakers[keep] if speakers is not None else None
        mel, frame_lengths = model.generate(tokens, lengths, durations, speakers)
        target = batch.features[keep, : mel.shape[1]].float()
        mask = lengths_mask(frame_lengths, mel.shape[1], mel.device)[..., None].float()
        free_l1 = ((mel.float() - target).abs() * mask).sum() / (mask.sum() * mel.shape[-1])
        _, log_durations = model.encode(tokens, lengths, speakers)
        predicted = model.durations(log_durations, lengths)
        token_mask = lengths_mask(lengths, tokens.shape[1], tokens.device)
        mae = (predicted - durations).abs().float()[token_mask].mean()
        vocoder = GriffinLim(self.config.features)
        frames = mel[0, : frame_lengths[0]].float().cpu().numpy()
        samples, rate = vocoder.vocode(frames)
        media = {
            "generated_mel": ImageMedia(frames.T[::-1], caption=f"{batch.ids[0]}: {batch.texts[0]!r}"),
            "generated": AudioMedia(samples, rate, caption=f"{batch.ids[0]} (true durations, Griffin-Lim)"),
        }
        metrics = {"free_mel_l1": free_l1.item(), "duration_mae": mae.item()}
        recognizer = self.recognizer
        if recognizer is not None:
            minimum = minimum_frames(list(batch.phonemes[keep]), tokens.shape[1]).to(tokens.device)
            spoken = model.durations(log_durations, lengths, minimum=minimum)  # as the Synthesizer speaks
            mel, frame_lengths = model.generate(tokens, lengths, spoken, speakers)
            audio = [
                vocoder.vocode(m[:n].float().cpu().numpy())
                for m, n in zip(mel, frame_lengths.tolist(), strict=True)
            ]
            heard = [
                result.transcript.text if result.transcript else "" for result in recognizer.transcribe(audio)
            ]
            said = [normalize_text(text) for text in batch.texts[keep]]
            metrics["roundtrip_cer"] = jiwer.cer(said, heard)
        return metrics, media

    @cached_property
    def recognizer(self) -> Recognizer | None:
        """The shipped recognizer (greedy), loaded at the first validation; None when the project has none."""
        return Recognizer.load() if (ASR_MODEL / "config.json").exists() else None

    def export(self) -> dict:
        return {**super().export(), "vocab": list(self.vocab.tokens)}
