#!/usr/bin/env python
"""Recipe: make a synthetic multi-voice corpus and split it into train/valid/test with unseen test voices.

Why whole voices: a recogniser that has heard a voice in training scores flatteringly on that voice, so the test
split holds out voices entirely (one flite voice, one festival voice and several espeak-ng variants in every
accent). Valid is a seeded random share of the remaining utterances, for early stopping and tuning.

    python pipelines/synthetic/prepare.py --out data/synthetic --count 5000 --seed 1
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from speech.data.manifest import Utterance, read_manifest, write_manifest  # noqa: E402
from speech.errors import SpeechError  # noqa: E402

TOOL = ROOT / "tools" / "make_synthetic_corpus.py"

# Held out for test, never trained on. espeak variants are held out in every accent (en-us+f4, en-gb+f4, ...).
TEST_VOICES = frozenset({"flite:slt", "festival:kdlpc16k"})
TEST_ESPEAK_VARIANTS = frozenset({"f4", "m3", "klatt4", "Annie", "belinda", "david", "Storm", "steph2"})
VALID_FRACTION = 0.05
SPLITS = ("train", "valid", "test")


def is_test_voice(voice_id: str) -> bool:
    """True for the voices reserved for the test split."""
    if voice_id in TEST_VOICES:
        return True
    engine, _, name = voice_id.partition(":")
    return engine == "espeak" and "+" in name and name.rsplit("+", 1)[1] in TEST_ESPEAK_VARIANTS


def split_corpus(
    utterances: list[Utterance], seed: int, valid_fraction: float = VALID_FRACTION
) -> dict[str, list[Utterance]]:
    """Test gets the held-out voices; valid a seeded random ``valid_fraction`` of the rest; train the remainder."""
    test = [utterance for utterance in utterances if is_test_voice(utterance.speaker)]
    rest = [utterance for utterance in utterances if not is_test_voice(utterance.speaker)]
    count = round(valid_fraction * len(rest))
    if valid_fraction > 0 and count == 0 and len(rest) >= 2:
        count = 1
    chosen = set(np.random.default_rng([seed, 7]).permutation(len(rest))[:count].tolist())
    valid = [utterance for index, utterance in enumerate(rest) if index in chosen]
    train = [utterance for index, utterance in enumerate(rest) if index not in chosen]
    return {"train": train, "valid": valid, "test": test}


def write_splits(out: Path, splits: dict[str, list[Utterance]]) -> None:
    """Write OUT/<split>.jsonl with audio paths relative to OUT, so the corpus folder can be moved whole."""
    for name, utterances in splits.items():
        relative = [replace(u, audio=os.path.relpath(u.audio, out)) for u in utterances]
        write_manifest(out / f"{name}.jsonl", relative)


def summarise(splits: dict[str, list[Utterance]]) -> str:
    """Hours, utterances and voices per split, as printed at the end of the recipe."""
    lines = [f"{'split':<6} {'utts':>7} {'hours':>7} {'voices':>7}  voices per engine"]
    for name in SPLITS:
        utterances = splits.get(name, [])
        voices = {utterance.speaker for utterance in utterances}
        per_engine = Counter(voice.split(":", 1)[0] for voice in voices)
        hours = sum(utterance.duration for utterance in utterances) / 3600.0
        engines = ", ".join(f"{engine} {count}" for engine, count in sorted(per_engine.items()))
        lines.append(f"{name:<6} {len(utterances):>7} {hours:>7.3f} {len(voices):>7}  {engines}")
    test_voices = sorted({u.speaker for u in splits.get("test", []) if not u.speaker.startswith("espeak:")})
    lines.append(
        "held-out voices: "
        + ", ".join([*test_voices, "espeak variants " + "/".join(sorted(TEST_ESPEAK_VARIANTS))])
    )
    return "\n".join(lines)


def synthesise(args: argparse.Namespace) -> None:
    """Run the corpus tool in a child process, exactly as a user would."""
    command = [sys.executable, str(TOOL), "--out", str(args.out), "--count", str(args.count)]
    command += ["--seed", str(args.seed), "--jobs", str(args.jobs), "--voices", args.voices]
    command += ["--sample-rate", str(args.sample_rate)]
    subprocess.run(command, check=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Make a synthetic speech corpus and split it into train/valid/test with held-out test voices.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="corpus folder; split manifests are written here"
    )
    parser.add_argument("--count", type=int, default=2000, help="number of utterances to synthesise")
    parser.add_argument("--seed", type=int, default=0, help="seed for the corpus and for the valid split")
    parser.add_argument("--jobs", type=int, default=2, help="parallel synthesis processes")
    parser.add_argument("--voices", default="all", help="voices to use (see the tool's --voices)")
    parser.add_argument("--sample-rate", type=int, default=16000, help="output sample rate in Hz")
    parser.add_argument(
        "--skip-synthesis", action="store_true", help="only re-split an existing OUT/manifest.jsonl"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out: Path = args.out
    if not args.skip_synthesis:
        try:
            synthesise(args)
        except subprocess.CalledProcessError as error:
            print(f"error: corpus tool failed with exit status {error.returncode}", file=sys.stderr)
            return 1
    try:
        utterances = list(read_manifest(out / "manifest.jsonl"))
    except SpeechError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    splits = split_corpus(utterances, args.seed)
    write_splits(out, splits)
    print(summarise(splits))
    print(f"wrote {', '.join(str(out / f'{name}.jsonl') for name in SPLITS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
