"""Shipped model folders carry a Hugging Face style card (README.md with YAML front matter); folders made
before, with MODEL_CARD.md, still load."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from speech.assets import ASR_MODEL, TTS_VOICE


def front_matter(card: Path) -> dict:
    text = card.read_text(encoding="utf-8")
    assert text.startswith("---\n"), f"{card}: no front matter"
    return yaml.safe_load(text.split("---\n", 2)[1])


@pytest.mark.parametrize(
    ("folder", "task"),
    [(ASR_MODEL, "automatic-speech-recognition"), (TTS_VOICE, "text-to-speech")],
)
def test_shipped_cards_have_front_matter(folder: Path, task: str) -> None:
    assert not (folder / "MODEL_CARD.md").exists()
    meta = front_matter(folder / "README.md")
    assert meta["license"] == "apache-2.0" and meta["language"] == ["en"] and meta["pipeline_tag"] == task
    assert meta["datasets"] and all(isinstance(name, str) for name in meta["datasets"])
    results = meta["model-index"][0]["results"]
    reported = {metric["type"] for result in results for metric in result["metrics"]}
    assert reported <= set(meta["metrics"]) and all(
        isinstance(metric["value"], float) for result in results for metric in result["metrics"]
    )
    assert "# " in (folder / "README.md").read_text(encoding="utf-8").split("---\n", 2)[2]  # the card itself


def test_a_folder_with_the_old_card_name_still_loads(tmp_path: Path) -> None:
    from speech.recognizer import Recognizer

    old = tmp_path / "asr"
    shutil.copytree(ASR_MODEL, old)
    (old / "README.md").rename(old / "MODEL_CARD.md")
    assert Recognizer.load(old).vocab is not None
