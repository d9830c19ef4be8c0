"""Pitch tracks (pYIN, speech.pitch.track_pitch) of every utterance in shard folders, into one .npz by id, for
a vocoder's training (``loss.pitch_tracks``): its F0 head's targets, its training lags and its harmonic
source then follow pYIN's track instead of YIN's per-batch estimates, whose octave jumps and voicing
flickers a harmonic source turns into roughness. pYIN runs at about 4x real time on one core, so it is run
once per corpus (about half an hour for the vocoder recipe's two hours), not in every training step.

    python tools/pitch_tracks.py data/vocoder/shards/train data/vocoder/shards/valid -o data/vocoder/pitch.npz

Frame f of an utterance is measured at sample f * hop + hop / 2, the middle of the samples the subframe
vocoder makes for it (speech.tasks.subframe). Written atomically; an existing output is reused for the ids it
already holds, so an interrupted run goes on where it stopped when run again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from speech.audio import atomic_output  # noqa: E402
from speech.data.shards import iterate_shards  # noqa: E402
from speech.features import FeatureConfig  # noqa: E402
from speech.pitch import track_pitch  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("shards", nargs="+", help="shard folders (speech shard's output)")
    parser.add_argument("-o", "--out", required=True, help=".npz to write")
    parser.add_argument(
        "--checkpoint-every", type=int, default=200, help="write what is done every this many utterances"
    )
    args = parser.parse_args()
    hop = FeatureConfig().hop_length
    out = Path(args.out)
    arrays: dict[str, np.ndarray] = {}
    if out.exists():
        with np.load(out) as done:
            arrays = {key: done[key] for key in done.files}

    def save() -> None:
        with atomic_output(out, "wb") as stream:
            np.savez(stream, **arrays)

    new = 0
    for source in args.shards:
        for sample in tqdm(iterate_shards(source), desc=source, unit="utt", disable=None):
            if f"{sample['id']}.period" in arrays:
                continue
            audio, rate = sample["audio"], sample["sample_rate"]
            pitch = track_pitch(audio, rate, hop, len(audio) // hop + 1)
            arrays[f"{sample['id']}.period"] = pitch.period.astype(np.float32)
            arrays[f"{sample['id']}.voiced"] = pitch.voiced
            new += 1
            if new % args.checkpoint_every == 0:
                save()
    save()
    print(f"{len(arrays) // 2} pitch tracks ({new} new) -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
