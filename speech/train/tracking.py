"""Experiment tracking with Weights & Biases, from rank 0 only.

Mode ``auto`` logs online when an API key is configured and offline otherwise (sync later with
``wandb sync``); ``WANDB_MODE`` in the environment wins over the config, so tests run with
``WANDB_MODE=disabled``. A resumed run continues the same W&B run: its id is kept in the run folder.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from speech.train.config import TrackingConfig

log = logging.getLogger(__name__)


@dataclass
class AudioMedia:
    samples: np.ndarray
    sample_rate: int
    caption: str = ""


@dataclass
class ImageMedia:
    pixels: np.ndarray  # (height, width) or (height, width, 3), any range: scaled for display
    caption: str = ""


def _mode(config: TrackingConfig) -> str:
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    if config.mode != "auto":
        return config.mode
    has_key = bool(os.environ.get("WANDB_API_KEY")) or "api.wandb.ai" in _netrc()
    return "online" if has_key else "offline"


def _netrc() -> str:
    try:
        return (Path.home() / ".netrc").read_text()
    except OSError:
        return ""


class Tracker:
    """Logs scalars and media on rank 0: scalars always to ``out_dir/metrics.jsonl`` (a local record that
    needs no account), everything to W&B unless tracking is disabled. A no-op on other ranks."""

    def __init__(self, config: TrackingConfig, run_config: dict, out_dir: Path, active: bool):
        self.run = None
        self.local_log = out_dir / "metrics.jsonl" if active else None
        mode = _mode(config)
        if not active or mode == "disabled":
            return
        import wandb  # imported only where used: it is slow to import and starts a service process

        self.wandb = wandb
        id_file = out_dir / "wandb_run_id"
        run_id = id_file.read_text().strip() if id_file.exists() else secrets.token_hex(6)
        id_file.write_text(run_id)
        self.run = wandb.init(
            project=config.project,
            name=config.name or out_dir.name,
            id=run_id,
            resume="allow",
            config=run_config,
            dir=str(out_dir),
            mode=mode,
        )
        log.info("tracking with W&B (%s): %s", mode, self.run.dir)

    def log(self, values: dict[str, Any], step: int) -> None:
        if self.local_log is not None:
            scalars = {k: v for k, v in values.items() if isinstance(v, int | float)}
            with self.local_log.open("a") as stream:
                stream.write(json.dumps({"step": step, **scalars}) + "\n")
        if self.run is None:
            return
        converted = {}
        for key, value in values.items():
            if isinstance(value, AudioMedia):
                value = self.wandb.Audio(value.samples, sample_rate=value.sample_rate, caption=value.caption)
            elif isinstance(value, ImageMedia):
                pixels = value.pixels.astype(np.float32)
                pixels = (255 * (pixels - pixels.min()) / max(float(np.ptp(pixels)), 1e-9)).astype(np.uint8)
                value = self.wandb.Image(pixels, caption=value.caption)
            converted[key] = value
        self.run.log(converted, step=step)

    def close(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None
