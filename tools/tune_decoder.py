#!/usr/bin/env python
"""Tune beam search's LM weight, word score and pruning on held-out data; write them beside the model
(decoder.json).

Why: how much to trust the n-gram LM against the acoustic model depends on both, so the weights are picked on
validation data for each shipped model instead of being guessed. The acoustic model runs once per utterance;
only the (cheap) search is repeated for every setting. With several manifests the score is the mean of their
WERs, so a small set (e.g. digits) counts as much as a large one. With the weights chosen, the beam threshold
(prune prefixes scoring that far below the best) is the tightest one tried that loses no WER against the
loosest: most of beam search's time goes to prefixes that never win.

    python tools/tune_decoder.py data/asr_valid150.jsonl data/fsdd/isolated_valid.jsonl --model exp/run/best
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import jiwer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from speech.audio import atomic_output, read_audio  # noqa: E402
from speech.ctc import GreedyDecoder  # noqa: E402
from speech.data.manifest import read_manifest  # noqa: E402
from speech.recognizer import DECODER_SETTINGS, Recognizer, beam_decoder  # noqa: E402
from speech.text.normalize import normalize_text  # noqa: E402


def posteriors(recognizer: Recognizer, paths: list[str], batch: int = 16) -> list[tuple]:
    """(log-probabilities (1, T, V), lengths (1,)) per file, computed once."""
    rate = recognizer.features.sample_rate
    out = []
    for start in range(0, len(paths), batch):
        waves = [read_audio(path, rate)[0] for path in paths[start : start + batch]]
        log_probs, lengths = recognizer.log_probs(waves)
        out += [(log_probs[i : i + 1, : lengths[i]], lengths[i : i + 1]) for i in range(len(waves))]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("manifests", nargs="+", help="JSONL manifests of held-out utterances")
    parser.add_argument(
        "--model", required=True, help="model folder with its lm.arpa (and lexicon.txt for a word LM)"
    )
    parser.add_argument("--beam", type=int, default=32, help="beam size to tune for (default: 32)")
    parser.add_argument("--lm-weights", default="0.5,1,1.5,2,3", help="comma-separated LM weights to try")
    parser.add_argument("--word-scores", default="-1,0,1,2", help="comma-separated word scores to try")
    parser.add_argument(
        "--beam-thresholds",
        default="50,25,15,12",
        help="comma-separated beam thresholds to try (default: 50,25,15,12; flashlight's is 50); the weights are "
        "tuned at the loosest",
    )
    parser.add_argument(
        "--limit", type=int, default=300, help="at most this many utterances per manifest (default: 300)"
    )
    args = parser.parse_args()
    try:
        thresholds = sorted(map(float, args.beam_thresholds.split(",")), reverse=True)
    except ValueError:
        parser.error(f"--beam-thresholds: not a comma-separated list of numbers: {args.beam_thresholds!r}")
    if thresholds[-1] <= 0:
        parser.error("--beam-thresholds: each threshold must be above 0")

    model = Path(args.model)
    recognizer = Recognizer.load(model)
    sets = {}
    for manifest in args.manifests:
        utterances = list(read_manifest(manifest))[: args.limit]
        references = [normalize_text(u.text) for u in utterances]
        sets[manifest] = (references, posteriors(recognizer, [u.audio for u in utterances]))

    def mean_wer(decoder) -> float:
        wers = []
        for references, outputs in sets.values():
            hypotheses = [decoder(log_probs, lengths)[0] for log_probs, lengths in outputs]
            wers.append(jiwer.wer(references, hypotheses))
        return sum(wers) / len(wers)

    greedy = mean_wer(GreedyDecoder(recognizer.vocab).decode)
    print(f"greedy: mean WER {100 * greedy:.2f}%")

    def beam_wer(weight: float, score: float, threshold: float) -> float:
        decoder = beam_decoder(
            model, recognizer.vocab, args.beam, lm_weight=weight, word_score=score, beam_threshold=threshold
        )
        return mean_wer(decoder.decode)

    results = {}
    for weight, score in itertools.product(
        map(float, args.lm_weights.split(",")), map(float, args.word_scores.split(","))
    ):
        results[(weight, score)] = beam_wer(weight, score, thresholds[0])
        print(
            f"lm_weight {weight:4.1f}  word_score {score:4.1f}: mean WER {100 * results[weight, score]:.2f}%"
        )
    (weight, score), best = min(results.items(), key=lambda item: item[1])
    threshold = thresholds[0]  # ``best`` is its WER
    for candidate in thresholds[1:]:
        wer = beam_wer(weight, score, candidate)
        print(f"beam_threshold {candidate:4.1f}: mean WER {100 * wer:.2f}%")
        if wer > best:
            break
        threshold = candidate
    settings = {"lm_weight": weight, "word_score": score, "beam_threshold": threshold}
    with atomic_output(model / DECODER_SETTINGS, "w") as stream:
        json.dump(settings, stream)
    print(
        f"best: lm_weight {weight}, word_score {score}, beam_threshold {threshold} "
        f"(mean WER {100 * best:.2f}%) -> {model / DECODER_SETTINGS}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
