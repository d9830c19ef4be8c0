#!/usr/bin/env python
"""Recipe: make a synthetic multi-voice corpus split into train/valid/test with unseen voices AND unseen text.

Why whole voices: a recogniser that has heard a voice in training scores flatteringly on that voice, so the test
split holds out voices entirely (one flite, one festival and one pico voice, and several espeak-ng variants in
every accent). Why held-out sentences: with a few thousand sentences a recurrent model (and an n-gram LM built from
the training text) learns the sentences themselves; test sentences never occur in training, so test scores
measure recognition, not recall. The corpus is made in two parts: training voices speaking training sentences,
and test voices speaking test sentences. Valid is a seeded random share of the training part.

    python pipelines/synthetic/prepare.py --out data/synthetic --count 10000 --test-count 600 --seed 1
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
sys.path.insert(0, str(ROOT / "tools"))

import synthvoices  # noqa: E402
from make_synthetic_corpus import load_sentences  # noqa: E402

from speech.data.manifest import Utterance, read_manifest, write_manifest  # noqa: E402
from speech.errors import SpeechError  # noqa: E402

TOOL = ROOT / "tools" / "make_synthetic_corpus.py"
SENTENCES = ROOT / "tools" / "corpus_text" / "sentences.txt"

# Held out for test, never trained on. espeak variants are held out in every accent (en-us+f4, en-gb+f4, ...).
TEST_VOICES = frozenset({"flite:slt", "festival:kdlpc16k", "pico:en-GB"})
TEST_ESPEAK_VARIANTS = frozenset({"f4", "m3", "klatt4", "Annie", "belinda", "david", "Storm", "steph2"})
VALID_FRACTION = 0.05
SPLITS = ("train", "valid", "test")


def is_test_voice(voice_id: str) -> bool:
    """True for the voices reserved for the test split."""
    if voice_id in TEST_VOICES:
        return True
    engine, _, name = voice_id.partition(":")
    return engine == "espeak" and "+" in name and name.rsplit("+", 1)[1] in TEST_ESPEAK_VARIANTS


def split_sentences(sentences: list[str], seed: int, fraction: float) -> tuple[list[str], list[str]]:
    """A seeded ``fraction`` of the sentences for test only; the rest for training."""
    order = np.random.default_rng([seed, 5]).permutation(len(sentences))
    count = max(1, round(fraction * len(sentences)))
    test = set(order[:count].tolist())
    return [s for i, s in enumerate(sentences) if i not in test], [
        s for i, s in enumerate(sentences) if i in test
    ]


def split_valid(
    utterances: list[Utterance], seed: int, valid_fraction: float = VALID_FRACTION
) -> tuple[list[Utterance], list[Utterance]]:
    """(train, valid): valid is a seeded random ``valid_fraction`` of the training part, at least one."""
    count = round(valid_fraction * len(utterances))
    if valid_fraction > 0 and count == 0 and len(utterances) >= 2:
        count = 1
    chosen = set(np.random.default_rng([seed, 7]).permutation(len(utterances))[:count].tolist())
    return (
        [u for index, u in enumerate(utterances) if index not in chosen],
        [u for index, u in enumerate(utterances) if index in chosen],
    )


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


def synthesise(
    out: Path, sentences: Path, voices: list[str], count: int, seed: int, args: argparse.Namespace
) -> list[Utterance]:
    """Run the corpus tool in a child process, exactly as a user would; the utterances it made. ``args``
    holds the options both recipes that call this share: jobs, sample rate and Piper's noise."""
    command = [
        sys.executable,
        str(TOOL),
        "--out",
        str(out),
        "--count",
        str(count),
        "--sentences",
        str(sentences),
    ]
    command += ["--seed", str(seed), "--jobs", str(args.jobs), "--voices", ",".join(voices)]
    command += ["--sample-rate", str(args.sample_rate)] + (["--piper-noise"] if args.piper_noise else [])
    try:
        subprocess.run(command, check=True)
    except subprocess.CalledProcessError as error:
        raise SpeechError(f"corpus tool failed with exit status {error.returncode}") from None
    return list(read_manifest(out / "manifest.jsonl"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Make a synthetic speech corpus and split it into train/valid/test with held-out test voices.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="corpus folder; split manifests are written here"
    )
    parser.add_argument("--count", type=int, default=2000, help="training-part utterances to synthesise")
    parser.add_argument("--test-count", type=int, default=200, help="test-part utterances to synthesise")
    parser.add_argument(
        "--test-sentences", type=float, default=0.1, help="fraction of sentences kept for test"
    )
    parser.add_argument("--sentences", type=Path, default=SENTENCES, help="sentence file, one per line")
    parser.add_argument("--seed", type=int, default=0, help="seed for the corpus and for the valid split")
    parser.add_argument("--jobs", type=int, default=2, help="parallel synthesis processes")
    parser.add_argument("--sample-rate", type=int, default=16000, help="output sample rate in Hz")
    add_piper_noise_option(parser)
    return parser


def add_piper_noise_option(parser: argparse.ArgumentParser) -> None:
    """``--piper-noise``, which :func:`synthesise` passes on: this recipe's and the digit strings' option."""
    parser.add_argument(
        "--piper-noise",
        action="store_true",
        help="draw each Piper utterance's sampling noise (tools/make_synthetic_corpus.py --piper-noise)",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    train_sentences, test_sentences = split_sentences(
        load_sentences(args.sentences), args.seed, args.test_sentences
    )
    for name, lines in (("train", train_sentences), ("test", test_sentences)):
        (out / f"sentences-{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    voices = [voice.id for voice in synthvoices.list_voices()]
    if not voices:
        print("error: no synthesiser installed (espeak-ng, flite, festival)", file=sys.stderr)
        return 1
    parts = {
        "train": (out / "train-part", [v for v in voices if not is_test_voice(v)], args.count, args.seed),
        "test": (out / "test-part", [v for v in voices if is_test_voice(v)], args.test_count, args.seed + 1),
    }
    try:
        made = {
            name: synthesise(folder, out / f"sentences-{name}.txt", part_voices, count, seed, args)
            for name, (folder, part_voices, count, seed) in parts.items()
        }
    except SpeechError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    train, valid = split_valid(made["train"], args.seed)
    splits = {"train": train, "valid": valid, "test": made["test"]}
    write_splits(out, splits)
    print(summarise(splits))
    print(f"wrote {', '.join(str(out / f'{name}.jsonl') for name in SPLITS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
