"""What a model provides to join the trainer: a loss on a batch, validation metrics, media to log."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from torch import Tensor, nn

from speech.config import ConfigError, ExperimentConfig
from speech.data.batching import Batch
from speech.features import FeatureExtractor, RunningStats
from speech.registry import architecture


class Task:
    """One kind of model (recognizer, vocoder, acoustic model) as the trainer sees it.

    The trainer owns the loop, devices, precision, distribution and checkpoints; a task owns everything that
    depends on what the model is: how to build it, what its features are, what its loss and metrics are.
    """

    name: ClassVar[str]
    needs_audio: ClassVar[bool] = False  # batches carry padded waveforms (models that predict audio)
    corruptible: ClassVar[bool] = (
        False  # training audio may be corrupted (augment's speed, tilt, reverb, babble, noise, ... *_prob)
    )
    critic: nn.Module | None = None  # an adversarial stage's second network, set by build_critic

    def __init__(self, config: ExperimentConfig):
        if config.augment.corrupts_audio and not self.corruptible:
            raise ConfigError(
                "augment's waveform corruptions (speed_prob, tilt_prob, reverb_prob, babble_prob, noise_prob, "
                f"telephone_prob, clip_prob, codec_prob): the {self.name} task learns from clean audio; "
                "leave them 0"
            )
        self.config = config
        self.extractor = FeatureExtractor(config.features)

    def featurize(self, audio: Tensor) -> Tensor:
        """One utterance's waveform -> the model's frames, input or target (runs in DataLoader workers)."""
        return self.extractor(audio)

    def build_model(self) -> nn.Module:
        """The untrained network of this task's architecture (:mod:`speech.registry`)."""
        return architecture(self.name).model(self.config.model)

    def prepare(self, model: nn.Module, batches: Iterable[Batch]) -> None:
        """One-off set-up from training data before the first step: every model here normalises its frames
        with the corpus mean and deviation (``model.normalize``), measured on the first batches."""
        stats = RunningStats(self.config.features.dims)
        for batch in batches:
            for features, length in zip(batch.features, batch.lengths, strict=True):
                stats.update(features[:length])
        model.normalize.load_state_dict(stats.normalizer().state_dict())

    def initialize(self, model: nn.Module, source: nn.Module) -> None:
        """``train.init_from``: start ``model`` from an exported model of the same architecture (a task
        whose models can grow, such as the LPC vocoder gaining pitch, also accepts a smaller one)."""
        model.load_state_dict(source.state_dict())

    def loss(self, model: nn.Module, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        """The scalar to minimise and any extra numbers to log for this batch."""
        raise NotImplementedError

    def build_critic(self) -> nn.Module | None:
        """A second network trained against the model (an adversarial stage's discriminator), or None. The
        trainer gives it its own optimizer on the same schedule and keeps it in checkpoints, not in model
        folders: only the model is exported."""
        return None

    def critic_loss(self, critic: nn.Module) -> Tensor:
        """The critic's loss on what the last :meth:`loss` call generated (its outputs and their targets)."""
        raise NotImplementedError

    def evaluate(self, model: nn.Module, batches: Iterable[Batch]) -> tuple[dict[str, float], dict[str, Any]]:
        """Validation metrics (including "loss") and media (AudioMedia/ImageMedia) to log."""
        raise NotImplementedError

    def export(self) -> dict:
        """What must travel with the weights so inference computes exactly what training did."""
        return {
            "task": self.name,
            "model": vars(self.config.model),
            "features": self.config.features.to_dict(),
        }
