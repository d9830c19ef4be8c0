"""The phoneme aligner as a training task: the recognizer's BiLSTM-CTC model over phonemes instead of letters.

Its only job is forced alignment (``speech align``): where each phoneme of a known transcript is in the audio,
which gives the acoustic model its phoneme durations. Everything but the targets is the ASR task's; validation
reports the phoneme error rate of greedy decoding (``per``).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from speech.ctc import best_paths, collapse
from speech.data.batching import Batch
from speech.tasks.asr import ASRTask
from speech.text.phonemes import Phonemizer
from speech.text.vocab import BLANK, AlignerVocab


class AlignerTask(ASRTask):
    name = "aligner"

    def build_vocab(self) -> AlignerVocab:
        self.phonemizer = Phonemizer()
        self._phonemes: dict[str, str] = {}
        return AlignerVocab.english()

    def references(self, batch: Batch) -> list[str]:
        """Each transcript's phonemes (space-separated, no word boundaries or pause marks), cached per text."""
        for text in batch.texts:
            if text not in self._phonemes:
                phones = self.phonemizer.phonemize(text)
                self._phonemes[text] = " ".join(p for p in phones if p in self.vocab and p != BLANK)
        return [self._phonemes[text] for text in batch.texts]

    def encode(self, reference: str) -> list[int]:
        return self.vocab.encode_tokens(reference.split())

    def decode(self, log_probs: Tensor, lengths: Tensor) -> list[str]:
        return [
            " ".join(self.vocab.decode_tokens(collapse(path, self.vocab.blank)))
            for path in best_paths(log_probs, lengths)
        ]

    def evaluate(self, model, batches) -> tuple[dict[str, float], dict[str, Any]]:
        metrics, media = super().evaluate(model, batches)
        metrics["per"] = metrics.pop("wer")  # words of the references are phonemes
        del metrics["cer"]
        return metrics, media
