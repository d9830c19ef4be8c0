"""Every kind of model by its task name: the network, its architecture config, its vocabulary, its loss
settings, and the one loader of exported model folders (``config.json`` + ``model.safetensors``).

It sits below training and inference alike: training configs look the model config up here
(:func:`speech.config.load_config`), the trainer fine-tunes from folders loaded here, and the recognizer,
synthesizer, vocoder and phoneme aligner all load through :func:`load_model`. The table is written out, so
nothing registers itself as a side effect of an import.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from torch import nn

from speech.errors import SpeechError
from speech.features import FeatureConfig
from speech.model_folder import config_must_match, read_model_folder
from speech.models.asr import ASRModel, ASRModelConfig
from speech.models.lpcnet import LPCNet, LPCNetConfig, LPCNetLossConfig
from speech.models.subframe import SubframeLossConfig, SubframeVocoder, SubframeVocoderConfig
from speech.models.tts import TTSLossConfig, TTSModel, TTSModelConfig
from speech.models.vocoder import SegmentsConfig, VocoderModel, VocoderModelConfig
from speech.text.vocab import AlignerVocab, CharVocab, PhonemeVocab, Vocab


@dataclass
class NoLossSettings:
    """A loss with nothing to set (CTC)."""


@dataclass(frozen=True)
class Architecture:
    model: type[nn.Module]
    config: type  # the ``model`` section's dataclass: the architecture, all inference needs
    vocab: type[Vocab] | None = None  # the vocabulary whose tokens an export lists under ``vocab``
    loss: type = NoLossSettings  # the ``loss`` section's dataclass: how training teaches it
    moved: tuple[str, ...] = ()  # loss settings that older exports kept in ``model``: ignored when loading


ARCHITECTURES: dict[str, Architecture] = {
    "asr": Architecture(ASRModel, ASRModelConfig, CharVocab),
    "aligner": Architecture(ASRModel, ASRModelConfig, AlignerVocab),
    "tts": Architecture(TTSModel, TTSModelConfig, PhonemeVocab, TTSLossConfig, ("duration_weight",)),
    "vocoder": Architecture(
        VocoderModel,
        VocoderModelConfig,
        loss=SegmentsConfig,
        moved=("segment_frames", "segments_per_utterance"),
    ),
    "lpc_vocoder": Architecture(
        LPCNet,
        LPCNetConfig,
        loss=LPCNetLossConfig,
        moved=("segment_frames", "segments_per_utterance", "noise"),
    ),
    "subframe_vocoder": Architecture(SubframeVocoder, SubframeVocoderConfig, loss=SubframeLossConfig),
}


def architecture(task: str) -> Architecture:
    if task not in ARCHITECTURES:
        raise SpeechError(f"task must be one of {', '.join(sorted(ARCHITECTURES))}, got {task!r}")
    return ARCHITECTURES[task]


@dataclass
class LoadedModel:
    task: str
    model: nn.Module  # in eval mode, on the CPU
    features: FeatureConfig
    vocab: Vocab | None
    config: dict[str, Any]  # the whole exported config.json (decoder settings, metrics, step, ...)


def load_model(folder: str | os.PathLike, tasks: str | tuple[str, ...], kind: str) -> LoadedModel:
    """An exported model of one of ``tasks``; ``kind`` names it in errors ("a vocoder"). Every problem
    (not a model folder, another task, unreadable weights, config and weights that do not match) is one
    :class:`~speech.model_folder.ModelError` line naming the folder."""
    config, weights = read_model_folder(folder, tasks, kind)
    found = ARCHITECTURES[config["task"]]
    with config_must_match(folder):
        settings = {key: value for key, value in config["model"].items() if key not in found.moved}
        model = found.model(found.config(**settings))
        model.load_state_dict(weights)
        features = FeatureConfig(**config["features"])
        vocab = found.vocab(config["vocab"]) if found.vocab else None
    return LoadedModel(config["task"], model.eval(), features, vocab, config)
