"""Reading the model folders ``speech train`` exports (``config.json`` + ``model.safetensors``), with the same
one-line errors for every kind of model: recognizer, aligner, voice, vocoder."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from speech.errors import SpeechError

if TYPE_CHECKING:
    from torch import Tensor


class ModelError(SpeechError):
    """A model folder that cannot be loaded; the message names the folder and the problem."""


def read_model_folder(
    folder: str | os.PathLike, task: str | tuple[str, ...], kind: str
) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """The exported config and weights of a ``task`` model (or of any of several tasks); ``kind`` names it
    in errors ("a vocoder")."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    config = read_config(folder, task, kind)
    try:
        weights = load_file(str(Path(folder) / "model.safetensors"))
    except (OSError, ValueError, SafetensorError) as error:
        raise ModelError(f"{folder}: unreadable weights ({error})") from None
    return config, weights


def read_config(folder: str | os.PathLike, task: str | tuple[str, ...], kind: str) -> dict[str, Any]:
    """The exported config of a ``task`` model, without its weights (nor torch, which reading them needs):
    all that running an exported copy of the network (ONNX) takes from the folder."""
    folder = Path(folder)
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as error:
        raise ModelError(f"{folder}: not a model folder ({error})") from None
    found = config.get("task") if isinstance(config, dict) else None
    if found not in ((task,) if isinstance(task, str) else task):
        raise ModelError(f"{folder}: a {found!r} model, not {kind}")
    return config


@contextmanager
def config_must_match(folder: str | os.PathLike) -> Iterator[None]:
    """Building the model from the config and loading its weights: any mismatch becomes one ModelError."""
    try:
        yield
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise ModelError(
            f"{folder}: config and weights do not match ({str(error).splitlines()[0]})"
        ) from None
