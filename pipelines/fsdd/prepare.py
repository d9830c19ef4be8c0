"""Prepare the Free Spoken Digit Dataset: manifests split by speaker, plus connected-digit utterances.

    python pipelines/fsdd/prepare.py --fsdd ../shared/data/fsdd --out data/fsdd

Isolated digits: three speakers train (takes 0-44 train, 45-49 validate), the fourth speaker is the test set.
Connected digits: strings of 2-7 recordings of one speaker joined with pauses of 0.1-0.5 s, made separately
from the train and the test speakers so no test voice leaks into training. Seeded and reproducible.
"""

from __future__ import annotations

import argparse
import random
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from speech.audio import audio_info, read_audio, write_audio
from speech.data.manifest import Utterance, write_manifest

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)$")
SAMPLE_RATE = 16000
VALID_TAKES = range(45, 50)


def isolated_utterances(recordings: Path) -> list[Utterance]:
    """One utterance per recording; the transcript and speaker come from the file name."""
    utterances = []
    for path in sorted(recordings.glob("*.wav")):
        match = NAME.match(path.stem)
        if match:
            digit, speaker, _ = match.groups()
            utterances.append(
                Utterance(
                    f"fsdd-{path.stem}",
                    str(path.resolve()),
                    audio_info(path).duration,
                    DIGITS[int(digit)],
                    speaker,
                )
            )
    return utterances


def take(utterance: Utterance) -> int:
    return int(utterance.id.rsplit("_", 1)[1])


def connected_utterances(
    sources: list[Utterance], count: int, out_dir: Path, prefix: str, rng: random.Random
) -> list[Utterance]:
    """Join random recordings of one speaker into digit strings with silent pauses between them."""
    by_speaker: dict[str, list[Utterance]] = defaultdict(list)
    for utterance in sources:
        by_speaker[utterance.speaker].append(utterance)
    speakers = sorted(by_speaker)
    made = []
    for index in tqdm(range(count), desc=f"{prefix} connected digits", unit="utt"):
        speaker = rng.choice(speakers)
        parts = rng.sample(by_speaker[speaker], rng.randint(2, 7))
        pieces = [np.zeros(int(rng.uniform(0.05, 0.2) * SAMPLE_RATE), np.float32)]
        for part in parts:
            pieces += [
                read_audio(part.audio, SAMPLE_RATE)[0],
                np.zeros(int(rng.uniform(0.1, 0.5) * SAMPLE_RATE), np.float32),
            ]
        audio = np.concatenate(pieces)
        utterance_id = f"fsdd-{prefix}-{index:05d}"
        path = out_dir / "connected" / prefix / f"{utterance_id}.wav"
        write_audio(path, audio, SAMPLE_RATE)
        text = " ".join(part.text for part in parts)
        made.append(Utterance(utterance_id, str(path.resolve()), len(audio) / SAMPLE_RATE, text, speaker))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fsdd", type=Path, required=True, help="FSDD folder (holding recordings/)")
    parser.add_argument("--out", type=Path, required=True, help="where manifests and connected audio go")
    parser.add_argument(
        "--test-speaker", default="george", help="speaker held out for testing (default: george)"
    )
    parser.add_argument("--connected-train", type=int, default=3000, help="connected utterances for training")
    parser.add_argument("--connected-test", type=int, default=300, help="connected utterances for testing")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    args = parser.parse_args()

    utterances = isolated_utterances(args.fsdd / "recordings")
    speakers = sorted({u.speaker for u in utterances})
    if args.test_speaker not in speakers:
        parser.error(f"--test-speaker {args.test_speaker!r} is not one of {', '.join(speakers)}")
    test = [u for u in utterances if u.speaker == args.test_speaker]
    rest = [u for u in utterances if u.speaker != args.test_speaker]
    train = [u for u in rest if take(u) not in VALID_TAKES]
    valid = [u for u in rest if take(u) in VALID_TAKES]

    rng = random.Random(args.seed)
    connected_train = connected_utterances(train, args.connected_train, args.out, "train", rng)
    connected_test = connected_utterances(test, args.connected_test, args.out, "test", rng)
    splits = {
        "isolated_train": train,
        "isolated_valid": valid,
        "isolated_test": test,
        "connected_train": connected_train,
        "connected_test": connected_test,
        "train": train + connected_train,
    }
    for name, split in splits.items():
        write_manifest(args.out / f"{name}.jsonl", split)
        hours = sum(u.duration for u in split) / 3600
        print(
            f"{name:16s} {len(split):6d} utterances {hours:6.2f} h  speakers: {' '.join(sorted({u.speaker for u in split}))}"
        )


if __name__ == "__main__":
    main()
