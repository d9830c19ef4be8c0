#!/usr/bin/env python
"""Build an n-gram language model (ARPA) over words or characters, and optionally a lexicon, from text.

Why: beam-search decoding (speech.beam) needs a word LM and, for lexicon decoding, a spelling of every word
in the model's alphabet; KenLM's lmplz is not available everywhere, so this estimates interpolated modified
Kneser-Ney in plain Python (speech.lm). Every line is normalised with speech.text.normalize_text, the same
spoken form the recogniser is trained to produce.

    python tools/build_lm.py data/train/manifest.jsonl extra.txt -o lm/3gram.arpa --lexicon lm/lexicon.txt
    python tools/build_lm.py data/train/manifest.jsonl --units chars --order 6 -o lm/chars.arpa
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tqdm import tqdm  # noqa: E402

from speech.cli.options import DeprecatedAlias  # noqa: E402
from speech.errors import SpeechError  # noqa: E402
from speech.lm import (  # noqa: E402
    count_ngrams,
    estimate_kneser_ney,
    read_corpus,
    spell,
    write_arpa,
    write_lexicon,
)

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
    parser.add_argument("-o", "--out", type=Path, help="ARPA file to write (OUT.arpa); required")
    parser.add_argument("--output", dest="out", type=Path, action=DeprecatedAlias, instead="-o/--out")
    parser.add_argument(
        "--order", type=int, default=3, help="n-gram order (default: 3; the decoder needs >= 2)"
    )
    parser.add_argument(
        "--lexicon",
        type=Path,
        help="also write a flashlight lexicon here: each word, its letters and '|' (hello h e l l o |)",
    )
    parser.add_argument(
        "--units",
        choices=("words", "chars"),
        default="words",
        help="words: a word LM, used with a lexicon (only its words can be recognised); chars: a character LM "
        "over the recognizer's letters with '|' between words, used lexicon-free (any word can be "
        "recognised, known spellings are preferred; try --order 6). Default: words",
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
    if args.out is None:
        parser.error("-o/--out is required: the ARPA file to write")
    if args.order < 1:
        parser.error(f"--order must be at least 1, got {args.order}")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    if args.units == "chars" and args.lexicon is not None:
        parser.error("--lexicon goes with a word LM: a character LM is used without one")
    if args.min_count < 1:
        parser.error(f"--min-count must be at least 1, got {args.min_count}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    if args.order < 2:
        log.warning("an order-1 model cannot be loaded by the beam-search decoder (it needs a bigram model)")
    started = time.perf_counter()
    try:
        sentences = tqdm(
            read_corpus(args.inputs, jobs=args.jobs), unit=" sentences", desc="reading", disable=None
        )
        if args.units == "chars":
            sentences = map(spell, sentences)
        counts = count_ngrams(sentences, args.order)
        model = estimate_kneser_ney(counts, min_count=args.min_count)
        write_arpa(model, args.out)
        if args.lexicon is not None:
            write_lexicon(model.words, args.lexicon)
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
