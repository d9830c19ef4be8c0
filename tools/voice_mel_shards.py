"""Shards for training a vocoder on what a voice predicts: each aligned recording with the voice's
teacher-forced log-mel frames stored beside it (speech.data.shards.StoredFeatures).

A vocoder trained only on mels computed from recordings meets something else in synthesis: the acoustic
model's frames are smoother, with blurred harmonics and softer onsets. Tacotron 2's recipe closes that gap by
training the vocoder on the acoustic model's own predictions, made with the true durations and previous
frames so that they stay aligned to the recording sample for sample ("ground-truth-aligned" frames). The
manifests must carry phonemes and durations (``speech align``, as the voice recipe writes
``data/voice_<name>/<split>_aligned.jsonl``); the voice should be the one trained on them.

    python tools/voice_mel_shards.py data/voice_joe/train_aligned.jsonl --voice speech/assets/voice \\
        -o data/vocoder_voice/shards/train
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from speech.data.manifest import Utterance, read_manifest  # noqa: E402
from speech.data.shards import StoredFeatures, write_shards  # noqa: E402
from speech.errors import SpeechError  # noqa: E402
from speech.features import FeatureExtractor  # noqa: E402
from speech.registry import load_model  # noqa: E402
from speech.tasks.tts import fit_durations  # noqa: E402


def voice_frames(voice: str, seed: int = 0) -> tuple[StoredFeatures, int]:
    """The voice's teacher-forced frames as stored features, and the sample rate they expect."""
    loaded = load_model(voice, "tts", "a voice")
    model, vocab = loaded.model, loaded.vocab
    extractor = FeatureExtractor(loaded.features)
    speakers = list(model.config.speakers)
    torch.manual_seed(seed)  # the pre-net's dropout stays on, as in generation

    @torch.inference_mode()
    def frames(utterance: Utterance, samples: np.ndarray) -> np.ndarray:
        recorded = extractor(torch.from_numpy(samples))
        durations = fit_durations(list(utterance.durations or ()), len(recorded))
        speaker = None
        if speakers:
            if utterance.speaker not in speakers:
                raise SpeechError(f"{utterance.id}: speaker {utterance.speaker!r} is not one of the voice's")
            speaker = torch.tensor([speakers.index(utterance.speaker)])
        predicted, _ = model.teacher_forced(
            torch.tensor([vocab.encode(list(utterance.phonemes or ()))]),
            torch.tensor([len(utterance.phonemes or ())]),
            torch.tensor([durations]),
            recorded[None],
            speaker,
        )
        return predicted[0].numpy()

    return StoredFeatures(
        f"teacher-forced frames of {Path(voice).resolve()}", frames
    ), loaded.features.sample_rate


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("manifests", nargs="+", help="aligned manifests (with phonemes and durations)")
    parser.add_argument("--voice", required=True, help="the voice folder whose predictions to store")
    parser.add_argument("-o", "--out", required=True, help="shard folder to write")
    parser.add_argument(
        "--max-samples", type=int, default=500, help="utterances per shard (default: %(default)s)"
    )
    args = parser.parse_args()
    try:
        utterances = [u for manifest in args.manifests for u in read_manifest(manifest)]
        unaligned = [u.id for u in utterances if not u.phonemes or u.durations is None]
        if unaligned:
            raise SpeechError(
                f"{unaligned[0]} (and {len(unaligned) - 1} more): no phonemes and durations; "
                "give the aligned manifests (speech align)"
            )
        features, rate = voice_frames(args.voice)
        report = write_shards(
            utterances,
            args.out,
            sample_rate=rate,
            max_samples=args.max_samples,
            progress=lambda items: tqdm(items, unit="utt", disable=None),
            resume=True,
            features=features,
        )
    except SpeechError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for utterance_id, reason in report.skipped:
        print(f"skipped {utterance_id}: {reason}", file=sys.stderr)
    print(
        f"{report.samples} utterances ({report.seconds / 3600:.2f} h) with {args.voice}'s frames -> {args.out}"
    )
    return 0 if report.samples else 1


if __name__ == "__main__":
    sys.exit(main())
