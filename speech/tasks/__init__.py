"""Training tasks by name; each registers its model config so YAML configs can be type-checked."""

from __future__ import annotations

from speech.tasks.aligner import AlignerTask
from speech.tasks.asr import ASRTask
from speech.tasks.base import Task
from speech.tasks.lpcnet import LPCNetTask
from speech.tasks.tts import TTSTask
from speech.tasks.vocoder import VocoderTask
from speech.train.config import MODEL_CONFIGS

TASKS: dict[str, type[Task]] = {
    task.name: task for task in (ASRTask, AlignerTask, TTSTask, VocoderTask, LPCNetTask)
}
MODEL_CONFIGS.update({name: task.model_config for name, task in TASKS.items()})

__all__ = ["TASKS", "Task"]
