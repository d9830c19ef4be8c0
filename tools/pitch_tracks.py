"""Pitch tracks (pYIN, speech.pitch.track_pitch) of every utterance in shard folders, into one .npz by id, for
a vocoder's training (``loss.pitch_tracks``): its F0 head's targets, its training lags and its harmonic
source then follow pYIN's track instead of YIN's per-batch estimates, whose octave jumps and voicing
flickers a harmonic source turns into roughness. pYIN runs at about 6x real time on one core, so it is run
once per corpus (about 20 minutes for the vocoder recipe's two hours), not in every training step.

    python tools/pitch_tracks.py data/vocoder/shards/train data/vocoder/shards/valid -o data/vocoder/pitch.npz

Frame f of an utterance is measured at sample f * hop + hop / 2, the middle of the samples the subframe
vocoder makes for it (speech.tasks.subframe). Written atomically, with the hop and sample rate; run again, it
keeps the tracks it holds whose frame count still fits the audio, so an interrupted run goes on where it
stopped and remade audio is measured again.
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
from speech.errors import SpeechError  # noqa: E402
from speech.features import FeatureConfig  # noqa: E402
from speech.pitch import track_pitch  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("shards", nargs="+", help="shard folders (speech shard's output)")
    parser.add_argument("-o", "--out", required=True, help=".npz to write")
    parser.add_argument(
        "--hop",
        type=int,
        default=FeatureConfig().hop_length,
        help="samples per feature frame (default: %(default)s)",
    )
    parser.add_argument(
        "--checkpoint-every", type=int, default=200, help="write what is done every this many utterances"
    )
    args = parser.parse_args()
    out = Path(args.out)
    arrays: dict[str, np.ndarray] = {}
    if out.exists():
        try:
            with np.load(out) as done:
                arrays = {key: done[key] for key in done.files}
        except (OSError, ValueError) as error:
            print(
                f"error: {out}: not a pitch-track file ({error}); move it away to start again",
                file=sys.stderr,
            )
            return 1
        if int(arrays.get("hop", -1)) != args.hop:
            print(f"{out}: measured at another hop; measuring every utterance again", file=sys.stderr)
            arrays = {}
    arrays["hop"] = np.array(args.hop)

    def save() -> None:
        with atomic_output(out, "wb") as stream:
            np.savez(stream, **arrays)

    new = 0
    try:
        for source in args.shards:
            for sample in tqdm(iterate_shards(source), desc=source, unit="utt", disable=None):
                audio, rate, key = sample["audio"], sample["sample_rate"], sample["id"]
                frames = len(audio) // args.hop + 1  # as many as the feature extractor makes
                if int(arrays.setdefault("sample_rate", np.array(rate))) != rate:
                    raise SpeechError(
                        f"{source}: {key} is at {rate} Hz, the others at {arrays['sample_rate']}"
                    )
                if len(arrays.get(f"{key}.period", ())) == frames:
                    continue  # done before (audio of another length under the same id is measured again)
                pitch = track_pitch(audio, rate, args.hop, frames)
                arrays[f"{key}.period"] = pitch.period.astype(np.float32)
                arrays[f"{key}.voiced"] = pitch.voiced
                new += 1
                if new % args.checkpoint_every == 0:
                    save()
    except SpeechError as error:  # a mixed rate, an unreadable shard or sample: what was measured is kept
        save()
        print(f"error: {error}", file=sys.stderr)
        return 1
    save()
    tracks = sum(key.endswith(".period") for key in arrays)
    print(f"{tracks} pitch tracks ({new} new) -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
