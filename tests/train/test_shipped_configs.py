from __future__ import annotations

from pathlib import Path

import pytest

from speech.config import load_config
from speech.tasks import TASKS

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "conf").rglob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.stem)
def test_every_shipped_config_loads_and_builds_its_model(path: Path) -> None:
    config = load_config(path)
    model = TASKS[config.task](config).build_model()
    assert sum(p.numel() for p in model.parameters()) > 1000
