"""The version is bumped in both places it is written, and the changelog has its section."""

from __future__ import annotations

import re
from pathlib import Path

import speech

ROOT = Path(__file__).resolve().parents[1]


def test_version_is_one_and_the_changelog_names_it() -> None:
    (version,) = re.findall(r'^version = "([^"]+)"$', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    assert version == speech.__version__
    headings = re.findall(r"^## \[([^\]]+)\]", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert headings[0] == "Unreleased" and headings[1] == speech.__version__
