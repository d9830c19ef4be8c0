"""The training engine behind ``speech train``; :func:`train_model` runs it from Python (notebooks, scripts)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from speech.config import ExperimentConfig


def train_model(
    config: str | os.PathLike | ExperimentConfig, overrides: Sequence[str] = (), resume: bool = False
) -> tuple[Path, dict[str, float]]:
    """Train what a YAML config describes, with ``key=value`` overrides, exactly as ``speech train`` does
    (``config`` may also be one :func:`~speech.config.load_config` has read, overrides applied).

    Returns the run folder (``train.out_dir``: ``last/`` and, with validation, ``best/`` model folders,
    ``metrics.jsonl``) and the last validation metrics (empty without ``data.valid``).
    """
    from speech.config import ExperimentConfig, load_config
    from speech.train.trainer import Trainer

    if isinstance(config, ExperimentConfig):
        if overrides:
            raise ValueError("overrides apply to a YAML file; this config is already loaded")
        experiment = config
    else:
        experiment = load_config(config, list(overrides))
    metrics = Trainer(experiment).fit(resume=resume)
    return Path(experiment.train.out_dir), metrics
