"""Options shared by the commands that run a recognizer, so they mean the same everywhere."""

from __future__ import annotations

import argparse

from speech.assets import ASR_MODEL


def add_recognizer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=str(ASR_MODEL), help="model folder (default: the shipped model)")
    parser.add_argument(
        "--beam", type=int, default=0, help="beam size for beam search; 0 decodes greedily (default: 0)"
    )
    parser.add_argument(
        "--lm", help="ARPA word n-gram LM for beam search (default: lm.arpa in the model folder)"
    )
    parser.add_argument(
        "--lexicon", help="lexicon for beam search (default: lexicon.txt in the model folder)"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")


def load_recognizer(args: argparse.Namespace):
    from speech.recognizer import Recognizer  # imports torch: only when a command runs

    return Recognizer.load(args.model, args.device, args.beam, args.lm, args.lexicon)
