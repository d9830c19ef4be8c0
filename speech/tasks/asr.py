"""Recognition as a training task: BiLSTM acoustic model, CTC loss, greedy CER/WER for validation."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import jiwer
import torch
import torch.nn.functional as F
from torch import Tensor

from speech.config import ExperimentConfig
from speech.ctc import GreedyDecoder
from speech.data.batching import Batch
from speech.media import ImageMedia
from speech.models.asr import ASRModel
from speech.tasks.base import Task
from speech.text.normalize import normalize_text
from speech.text.vocab import CharVocab, Vocab


class ASRTask(Task):
    name = "asr"
    corruptible = True

    def __init__(self, config: ExperimentConfig):
        self.vocab = self.build_vocab()
        # Input size and alphabet follow from the features and vocabulary: never set twice.
        config.model = dataclasses.replace(
            config.model, input_dims=config.features.dims, vocab_size=len(self.vocab)
        )
        super().__init__(config)

    def build_model(self) -> ASRModel:
        return ASRModel(self.config.model, self.config.augment)

    def build_vocab(self) -> Vocab:
        return CharVocab.english()

    def references(self, batch: Batch) -> list[str]:
        """What the model should recognise in each utterance, as text."""
        return [normalize_text(text) for text in batch.texts]

    def encode(self, reference: str) -> list[int]:
        return self.vocab.encode(reference)

    def decode(self, log_probs: Tensor, lengths: Tensor) -> list[str]:
        return GreedyDecoder(self.vocab).decode(log_probs, lengths)

    def targets(self, batch: Batch) -> tuple[Tensor, Tensor]:
        encoded = [self.encode(reference) for reference in self.references(batch)]
        return torch.tensor([i for ids in encoded for i in ids], dtype=torch.long), torch.tensor(
            list(map(len, encoded))
        )

    def ctc_loss(self, log_probs: Tensor, lengths: Tensor, batch: Batch) -> Tensor:
        """Mean CTC loss, in fp32 outside autocast; impossible alignments (targets longer than the output)
        count as zero instead of infinity."""
        targets, target_lengths = self.targets(batch)
        with torch.autocast(log_probs.device.type, enabled=False):
            return F.ctc_loss(
                log_probs.float().transpose(0, 1),
                targets,
                lengths,
                target_lengths,
                blank=self.vocab.blank,
                zero_infinity=True,
            )

    def loss(self, model: ASRModel, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        log_probs, lengths = model(batch.features, batch.lengths)
        return self.ctc_loss(log_probs, lengths, batch), {}

    @torch.no_grad()
    def evaluate(self, model: ASRModel, batches: Iterable[Batch]) -> tuple[dict[str, float], dict[str, Any]]:
        references, hypotheses, losses, weights = [], [], [], []
        media: dict[str, Any] = {}
        for batch in batches:
            log_probs, lengths = model(batch.features, batch.lengths)
            losses.append(self.ctc_loss(log_probs, lengths, batch).item() * len(batch.ids))
            weights.append(len(batch.ids))
            references += self.references(batch)
            hypotheses += self.decode(log_probs, lengths)
            if not media:
                media["posteriors"] = ImageMedia(
                    log_probs[0, : lengths[0]].exp().T.float().cpu().numpy(),
                    caption=f"{batch.ids[0]}: {hypotheses[-len(batch.ids)]!r}",
                )
        pairs = [(r, h) for r, h in zip(references, hypotheses, strict=True) if r]
        metrics = {
            "loss": sum(losses) / max(sum(weights), 1),
            "cer": jiwer.cer([r for r, _ in pairs], [h for _, h in pairs]) if pairs else 0.0,
            "wer": jiwer.wer([r for r, _ in pairs], [h for _, h in pairs]) if pairs else 0.0,
        }
        return metrics, media

    def export(self) -> dict:
        return {**super().export(), "vocab": list(self.vocab.tokens)}
