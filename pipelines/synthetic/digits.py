#!/usr/bin/env python
"""Recipe: spoken digit strings by the synthetic training voices, at telephone bandwidth (8 kHz).

Why: the FSDD recordings are 8 kHz speech from only three training speakers, so a recogniser learns the ten
digit words, band-limited, from three voices, and a fourth (held-out) speaker sounds new. Here the hundreds
of training voices of the synthetic corpus (never its held-out test voices) say the same words, at the same
bandwidth (the shards resample them to 16 kHz, as they do FSDD): many speakers for the digit words.

    python pipelines/synthetic/digits.py --out data/digits --count 3000 --seed 2

Half the utterances are one digit (FSDD's isolated task), half strings of two to six (its connected task).
Writes OUT/train.jsonl (audio paths relative to OUT).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prepare import (  # noqa: E402
    add_piper_noise_option,
    is_test_voice,
    summarise,
    synthesise,
    synthvoices,
    write_splits,
)

from speech.errors import SpeechError  # noqa: E402

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def digit_strings(count: int, seed: int) -> list[str]:
    """``count`` seeded lines: half a single digit word, half two to six of them."""
    rng = np.random.default_rng([seed, 11])
    lengths = np.where(rng.random(count) < 0.5, 1, rng.integers(2, 7, count))
    return [" ".join(DIGITS[d] for d in rng.integers(0, 10, n)) for n in lengths]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Synthesise digit strings with the synthetic corpus's training voices at 8 kHz.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--out", type=Path, required=True, help="corpus folder; train.jsonl is written here")
    parser.add_argument("--count", type=int, default=3000, help="utterances to synthesise")
    parser.add_argument("--seed", type=int, default=2, help="seed for the digit strings and the voices")
    parser.add_argument("--jobs", type=int, default=2, help="parallel synthesis processes")
    parser.add_argument("--sample-rate", type=int, default=8000, help="output sample rate in Hz (FSDD's)")
    add_piper_noise_option(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    lines = digit_strings(args.count, args.seed)
    (out / "digits.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    voices = [voice.id for voice in synthvoices.list_voices() if not is_test_voice(voice.id)]
    if not voices:
        print("error: no synthesiser installed (espeak-ng, flite, festival)", file=sys.stderr)
        return 1
    try:
        utterances = synthesise(out / "part", out / "digits.txt", voices, args.count, args.seed, args)
    except SpeechError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    write_splits(out, {"train": utterances})
    print(summarise({"train": utterances}))
    print(f"wrote {out / 'train.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
