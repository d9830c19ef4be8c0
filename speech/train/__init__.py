"""The training engine behind ``speech train``; :func:`train_model` runs it from Python (notebooks, scripts)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


def train_model(
    config: str | os.PathLike, overrides: Sequence[str] = (), resume: bool = False
) -> tuple[Path, dict[str, float]]:
    """Train what a YAML config describes, with ``key=value`` overrides, exactly as ``speech train`` does.

    Returns the run folder (``train.out_dir``: ``last/`` and, with validation, ``best/`` model folders,
    ``metrics.jsonl``) and the last validation metrics (empty without ``data.valid``).
    """
    from speech.tasks import TASKS  # noqa: F401  (registers the tasks' model configs)
    from speech.train.config import load_config
    from speech.train.trainer import Trainer

    experiment = load_config(config, list(overrides))
    metrics = Trainer(experiment).fit(resume=resume)
    return Path(experiment.train.out_dir), metrics
