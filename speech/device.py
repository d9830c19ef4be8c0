"""Which torch device a command runs on, checked up front: a request the machine cannot serve is one line
naming it (not a CUDA driver traceback from deep inside the first tensor copy)."""

from __future__ import annotations

import torch

from speech.errors import SpeechError


def resolve_device(
    request: str | torch.device, option: str = "--device", local_rank: int = 0
) -> torch.device:
    """``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (a GPU when there is one) -> a usable torch device.
    ``option`` names the setting in errors; ``local_rank`` picks the GPU of a torchrun process."""
    if str(request) == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(request)
    except (RuntimeError, TypeError):
        raise SpeechError(f"{option} {request}: not a device (cpu, cuda, cuda:N or auto)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SpeechError(f"{option} {request}: CUDA is not available on this machine")
        if device.index is None:
            device = torch.device(f"cuda:{local_rank}")
        elif device.index >= torch.cuda.device_count():
            raise SpeechError(f"{option} {request}: this machine has {torch.cuda.device_count()} GPU(s)")
    elif device.type != "cpu":
        raise SpeechError(f"{option} {request}: only cpu and cuda devices are supported")
    return device
