"""tools/pocketsphinx_lm.py keeps what pocketsphinx's ARPA writer finished before it crashed."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from pocketsphinx_lm import complete_sections  # noqa: E402

CUT_OFF = (
    "\\data\\\nngram 1=3\nngram 2=3\nngram 3=9\n\n\\1-grams:\n-99.0000\t<s>\t-0.3\n-1.2000\tthe\t-0.2\n"
    "-2.5000\tcat\t0.0\n\n\\2-grams:\n-0.5000\t<s>\tthe\t-0.1\n-0.9000\tthe\tcat\t0.0\n-4.2"
)


def test_a_cut_off_conversion_keeps_whole_unigrams_and_bigrams() -> None:
    unigrams, bigrams = complete_sections(CUT_OFF)
    assert unigrams == ["-99.0000\t<s>\t-0.3", "-1.2000\tthe\t-0.2", "-2.5000\tcat\t0.0"]
    assert bigrams == ["-0.5000\t<s> the", "-0.9000\tthe cat"]  # the half-written line is dropped


def test_trigrams_are_not_read_as_bigrams() -> None:
    whole = CUT_OFF.replace("-4.2", "\n\\3-grams:\n-0.1\t<s>\tthe\tcat\n")
    assert complete_sections(whole)[1] == ["-0.5000\t<s> the", "-0.9000\tthe cat"]
