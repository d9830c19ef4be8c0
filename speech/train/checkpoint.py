"""Checkpoints that are safe to load and never half-written.

A checkpoint is a folder ``step-000001000/`` holding ``model.safetensors`` (the weights) and
``state.safetensors`` + ``state.json`` (optimizer, scheduler, scaler, RNG, step, data position). Nested
trainer state is split into its tensors (safetensors) and a JSON skeleton that points at them, so nothing is
ever unpickled. The folder is written under a temporary name and renamed into place, so a run killed at any
moment leaves either the previous checkpoint or the new one, complete. A checkpoint damaged afterwards (a disk
fault, a copy cut short) is skipped on resume for the newest one that loads (:func:`resume_latest`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save

from speech.audio import atomic_output
from speech.errors import SpeechError

STEP_DIR = re.compile(r"^step-(\d+)$")

log = logging.getLogger(__name__)


class CheckpointError(SpeechError):
    """A checkpoint folder that is missing or unreadable."""


def flatten_state(state: Any, tensors: dict[str, torch.Tensor], path: str = "") -> Any:
    """Move every tensor of a nested structure into ``tensors``; return the JSON-able rest."""
    if isinstance(state, torch.Tensor):
        tensors[path] = state.detach().cpu().contiguous()
        return {"__tensor__": path}
    if isinstance(state, dict):
        return {
            "__dict__": [
                [flatten_state(k, tensors, f"{path}.k{i}"), flatten_state(v, tensors, f"{path}.{i}")]
                for i, (k, v) in enumerate(state.items())
            ]
        }
    if isinstance(state, list | tuple):
        items = [flatten_state(v, tensors, f"{path}.{i}") for i, v in enumerate(state)]
        return {"__tuple__": items} if isinstance(state, tuple) else items
    if state is None or isinstance(state, bool | int | float | str):
        return state
    raise TypeError(f"cannot store {type(state).__name__} at {path or 'top level'} in a checkpoint")


def unflatten_state(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(skeleton, dict):
        if "__tensor__" in skeleton:
            return tensors[skeleton["__tensor__"]]
        if "__tuple__" in skeleton:
            return tuple(unflatten_state(v, tensors) for v in skeleton["__tuple__"])
        return {unflatten_state(k, tensors): unflatten_state(v, tensors) for k, v in skeleton["__dict__"]}
    if isinstance(skeleton, list):
        return [unflatten_state(v, tensors) for v in skeleton]
    return skeleton


# The layout of the weights this toolkit writes; raised when a change makes older readers misread them.
FORMAT_VERSION = "1"


def weights_header(metadata: Mapping[str, str] | None = None) -> dict[str, str]:
    """The metadata every weights file carries, as Hugging Face tools expect a safetensors header to: the
    tensors' framework (``format: pt``), this toolkit's ``format_version`` and ``created_by`` (name and
    version), then ``metadata`` (e.g. ``task``). Values are strings, as safetensors requires."""
    from speech import __version__

    header = {"format": "pt", "format_version": FORMAT_VERSION, "created_by": f"speech {__version__}"}
    for key, value in (metadata or {}).items():
        if not isinstance(value, str):
            raise TypeError(f"safetensors metadata must be strings: {key}={value!r}")
        header[key] = value
    return header


def save_weights(
    path: str | os.PathLike, state_dict: dict[str, torch.Tensor], metadata: Mapping[str, str] | None = None
) -> None:
    """Weights as safetensors with :func:`weights_header` (plus ``metadata``), written atomically with
    ordinary file permissions."""
    tensors = {name: tensor.detach().cpu().contiguous().clone() for name, tensor in state_dict.items()}
    with atomic_output(path, "wb") as stream:
        stream.write(save(tensors, metadata=weights_header(metadata)))


def read_weights_metadata(path: str | os.PathLike) -> dict[str, str]:
    """A weights file's metadata, without loading its tensors; ``{}`` for files written before it existed
    (they load as before). An unreadable file raises :class:`CheckpointError`, one line naming it."""
    try:
        with safe_open(str(path), framework="pt") as weights:
            return dict(weights.metadata() or {})
    except (OSError, SafetensorError) as error:
        raise CheckpointError(f"{path}: unreadable weights ({_one_line(error)})") from None


def save_checkpoint(root: str | os.PathLike, step: int, model_state: dict, trainer_state: dict) -> Path:
    """Write ``root/step-<step>/`` atomically and return its path; a failed write (a full disk raises
    :class:`~speech.audio.OutputError`) leaves no temporary folder behind."""
    root = Path(root)
    final = root / f"step-{step:09d}"
    temporary = root / f".step-{step:09d}.tmp"
    shutil.rmtree(temporary, ignore_errors=True)
    try:
        temporary.mkdir(parents=True)
        save_weights(temporary / "model.safetensors", model_state)
        tensors: dict[str, torch.Tensor] = {}
        skeleton = flatten_state(trainer_state, tensors)
        save_weights(temporary / "state.safetensors", tensors)
        with atomic_output(temporary / "state.json", "w") as stream:  # each file is synced as it closes
            stream.write(json.dumps(skeleton))
        if final.exists():
            shutil.rmtree(final)
        os.replace(temporary, final)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return final


def load_checkpoint(folder: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """The model weights and the trainer state of one checkpoint; anything missing, truncated or malformed
    raises :class:`CheckpointError`, one line naming the folder."""
    folder = Path(folder)
    try:
        model_state = load_file(str(folder / "model.safetensors"))
        tensors = load_file(str(folder / "state.safetensors"))
        skeleton = json.loads((folder / "state.json").read_text())
        state = unflatten_state(skeleton, tensors)
    except (OSError, ValueError, SafetensorError, KeyError, TypeError) as error:
        raise CheckpointError(f"{folder}: unreadable checkpoint ({_one_line(error)})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{folder}: unreadable checkpoint (state.json holds no trainer state)")
    return model_state, state


def resume_latest(
    root: str | os.PathLike, restore: Callable[[Path, dict[str, torch.Tensor], dict], None]
) -> Path | None:
    """Hand the newest checkpoint under ``root`` that loads to ``restore`` and return its folder.

    A checkpoint that cannot be read, or that ``restore`` rejects (``RuntimeError``, ``KeyError``,
    ``ValueError``, ``TypeError``: weights or state that do not fit), is skipped with a warning saying why,
    and the one before it is tried, so a damaged newest checkpoint costs the steps since the previous one,
    not the run. Returns None when there is no checkpoint; raises :class:`CheckpointError` when there are
    some and none loads (starting afresh would overwrite them).
    """
    skipped = []
    for folder in reversed(list_checkpoints(root)):
        try:
            model_state, state = load_checkpoint(folder)
            restore(folder, model_state, state)
        except CheckpointError as error:
            problem = str(error)
        except (RuntimeError, KeyError, ValueError, TypeError) as error:
            problem = f"{folder}: does not fit this run ({_one_line(error)})"
        else:
            if skipped:
                log.warning("resumed from %s, skipping %d newer checkpoint(s)", folder, len(skipped))
            return folder
        log.warning("skipping checkpoint %s", problem)
        skipped.append(problem)
    if skipped:
        raise CheckpointError(f"{root}: none of the {len(skipped)} checkpoints loads; newest: {skipped[0]}")
    return None


def _one_line(error: BaseException, limit: int = 300) -> str:
    """An exception's message on one line (PyTorch's state-dict errors run over several), cut at ``limit``."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def list_checkpoints(root: str | os.PathLike) -> list[Path]:
    """Complete checkpoints under ``root``, oldest first (temporary folders are ignored)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := STEP_DIR.match(p.name)) and p.is_dir()]
    return [path for _, path in sorted(found)]


def prune_checkpoints(root: str | os.PathLike, keep_last: int) -> None:
    for old in list_checkpoints(root)[:-keep_last] if keep_last > 0 else []:
        shutil.rmtree(old)
