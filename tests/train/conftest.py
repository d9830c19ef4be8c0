from __future__ import annotations

from pathlib import Path

import pytest

from speech.data.importers import import_sphinx
from speech.data.shards import write_shards


@pytest.fixture(scope="session")
def real_shards(tmp_path_factory: pytest.TempPathFactory, librivox_dir: Path) -> Path:
    """Shards of Debian's real read speech (five utterances, 25 s), three shards."""
    folder = tmp_path_factory.mktemp("shards")
    write_shards(import_sphinx(librivox_dir).utterances, folder, max_samples=2)
    return folder
