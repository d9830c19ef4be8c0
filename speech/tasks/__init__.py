"""What each kind of model learns from a batch (its loss, validation metrics and media), by task name.

The architecture each task trains (network, config, vocabulary) is in :mod:`speech.registry`."""

from __future__ import annotations

from speech.tasks.aligner import AlignerTask
from speech.tasks.asr import ASRTask
from speech.tasks.base import Task
from speech.tasks.lpcnet import LPCNetTask
from speech.tasks.subframe import SubframeVocoderTask
from speech.tasks.tts import TTSTask
from speech.tasks.vocoder import VocoderTask

TASKS: dict[str, type[Task]] = {
    task.name: task for task in (ASRTask, AlignerTask, TTSTask, VocoderTask, LPCNetTask, SubframeVocoderTask)
}

__all__ = ["TASKS", "Task"]
