#!/usr/bin/env python
"""Build a word n-gram language model (ARPA) and optionally a flashlight lexicon from text.

Why: beam-search decoding (speech.beam) needs a word LM and, for lexicon decoding, a spelling of every word
in the model's alphabet; KenLM's lmplz is not available everywhere, so this estimates interpolated modified
Kneser-Ney in plain Python (speech.lm). Every line is normalised with speech.text.normalize_text, the same
spoken form the recogniser is trained to produce.

    python tools/build_lm.py data/train/manifest.jsonl extra.txt -o lm/3gram.arpa --lexicon lm/lexicon.txt
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from speech.errors import SpeechError  # noqa: E402
from speech.lm import count_ngrams, estimate_kneser_ney, read_corpus, write_arpa, write_lexicon  # noqa: E402
from speech.text.phonemes import cmu_dictionary  # noqa: E402
from speech.text.vocab import CharVocab  # noqa: E402

log = logging.getLogger("build_lm")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        help="text files (one sentence per line) or JSONL manifests (.jsonl: each line's 'text' field)",
    )
    parser.add_argument("-o", "--output", type=Path, required=True, help="ARPA file to write (OUT.arpa)")
    parser.add_argument(
        "--order", type=int, default=3, help="n-gram order (default: 3; the decoder needs >= 2)"
    )
    parser.add_argument(
        "--lexicon",
        type=Path,
        help="also write a flashlight lexicon here: each word, its letters and '|' (hello h e l l o |)",
    )
    parser.add_argument(
        "--cmudict",
        action="store_true",
        help="also spell every word of the CMU Pronouncing Dictionary in the lexicon (the LM scores words it "
        "never saw as <unk>), so that words missing from the training text can still be recognised",
    )
    parser.add_argument(
        "--min-count",
        type=int,
        default=1,
        help="drop n-grams of order 2 and up seen fewer times than this (unigrams are always kept; default: 1)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=min(8, os.cpu_count() or 1),
        help="processes for text normalisation, the slow part (default: CPU count, at most 8)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log discounts and per-order details")
    args = parser.parse_args(argv)
    if args.order < 1:
        parser.error(f"--order must be at least 1, got {args.order}")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    if args.min_count < 1:
        parser.error(f"--min-count must be at least 1, got {args.min_count}")
    return args


def dictionary_words(alphabet: set[str]) -> set[str]:
    """The CMU dictionary's words that the recognizer's alphabet can spell (most entries; not "a.m." etc.)."""
    return {word for word in cmu_dictionary() if set(word) <= alphabet and word.strip("'") == word}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    if args.order < 2:
        log.warning("an order-1 model cannot be loaded by the beam-search decoder (it needs a bigram model)")
    started = time.perf_counter()
    try:
        counts = count_ngrams(read_corpus(args.inputs, jobs=args.jobs), args.order)
        model = estimate_kneser_ney(counts, min_count=args.min_count)
        write_arpa(model, args.output)
        if args.lexicon is not None:
            words = set(model.words) | (
                dictionary_words(set(CharVocab.english().tokens)) if args.cmudict else set()
            )
            write_lexicon(sorted(words), args.lexicon)
    except SpeechError as error:
        log.error("error: %s", error)
        return 1
    log.info(
        "%d-gram model: %s n-grams, %d words, %.1fs",
        model.order,
        " / ".join(map(str, model.counts)),
        len(model.words),
        time.perf_counter() - started,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
