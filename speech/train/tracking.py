"""Experiment tracking with Weights & Biases, from rank 0 only.

Mode ``auto`` logs online when an API key is configured and offline otherwise (sync later with
``wandb sync``). W&B's own environment variables win over the config, as W&B users expect: ``WANDB_MODE`` (the
tests run with ``WANDB_MODE=disabled``), ``WANDB_PROJECT``, ``WANDB_NAME``, ``WANDB_RUN_ID``, ``WANDB_DIR``,
``WANDB_RESUME``. A resumed run continues the same W&B run: its id is kept in the run folder.

The run's summary holds the best value of ``train.best_metric`` (its minimum or maximum, per
``train.best_mode``), not only the last, and the model folders are logged as a ``model`` artifact named
``model-RUN_ID`` (aliases ``best`` and ``latest``), as Lightning's W&B logger names them; ``tracking.log_model``
(or ``WANDB_LOG_MODEL=false``, the Hugging Face habit) turns that off.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from speech.config import TrackingConfig
from speech.media import AudioMedia, ImageMedia

log = logging.getLogger(__name__)


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


# wandb.init's argument -> the environment variable that, when set, wins over it (W&B reads them itself).
ENVIRONMENT = {
    "project": "WANDB_PROJECT",
    "name": "WANDB_NAME",
    "id": "WANDB_RUN_ID",
    "dir": "WANDB_DIR",
    "resume": "WANDB_RESUME",
}


def init_arguments(config: TrackingConfig, out_dir: Path, run_config: dict) -> dict[str, Any]:
    """What ``wandb.init`` gets: the config's values and this run's defaults, less those an environment
    variable sets (see :data:`ENVIRONMENT`)."""
    id_file = out_dir / "wandb_run_id"
    defaults = {
        "project": config.project,
        "name": config.name or out_dir.name,
        "id": id_file.read_text().strip() if id_file.exists() else secrets.token_hex(6),
        "dir": str(out_dir),
        "resume": "allow",
    }
    chosen = {key: value for key, value in defaults.items() if not os.environ.get(ENVIRONMENT[key])}
    return {**chosen, "config": run_config, "mode": _mode(config)}


def _log_model(config: TrackingConfig) -> bool:
    setting = os.environ.get("WANDB_LOG_MODEL", "").strip().lower()
    if setting:
        return setting not in ("false", "0", "no", "off")
    return config.log_model


class Tracker:
    """Logs scalars and media on rank 0: scalars always to ``out_dir/metrics.jsonl`` (a local record that
    needs no account), everything to W&B unless tracking is disabled. A no-op on other ranks."""

    def __init__(self, config: TrackingConfig, run_config: dict, out_dir: Path, active: bool):
        self.run = None
        self.out_dir = out_dir
        self.local_log = out_dir / "metrics.jsonl" if active else None
        self.log_models = _log_model(config)
        mode = _mode(config)
        if not active or mode == "disabled":
            return
        import wandb  # imported only where used: it is slow to import and starts a service process

        self.wandb = wandb
        self.run = wandb.init(**init_arguments(config, out_dir, run_config))
        (out_dir / "wandb_run_id").write_text(self.run.id)  # the W&B run a resume continues
        train = run_config.get("train", {})
        if "best_metric" in train:
            self.run.define_metric(f"valid/{train['best_metric']}", summary=train.get("best_mode", "min"))
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

    def log_model(self, folder: Path, aliases: Sequence[str]) -> None:
        """Log a model folder (weights, config, card) as a version of this run's ``model`` artifact; W&B keeps
        one copy of files that did not change. Its ``config.json`` (step, metrics) is the version's metadata."""
        if self.run is None or not self.log_models or not (folder / "model.safetensors").is_file():
            return
        try:
            metadata = json.loads((folder / "config.json").read_text())
        except (OSError, ValueError):
            metadata = {}
        artifact = self.wandb.Artifact(
            f"model-{self.run.id}",
            type="model",
            metadata={key: metadata[key] for key in ("task", "step", "metrics") if key in metadata},
        )
        artifact.add_dir(str(folder))
        self.run.log_artifact(artifact, aliases=list(aliases))

    def close(self) -> None:
        """Finish the W&B run, logging the best model first (``best/``, the final one validation chose)."""
        if self.run is not None:
            self.log_model(self.out_dir / "best", ["best"])
            self.run.finish()
            self.run = None
