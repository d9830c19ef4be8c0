"""The steps the voice and recognizer recipes share (pipelines/voice/run.sh, pipelines/finetune/run.sh), as
commands a shell recipe can call; the work is done by speech.data.clean and speech.package.

    python pipelines/recipe.py prepare DATA --format folder --out data/x [--min-seconds 0.5] [--max-seconds 20]
        [--min-rate 16000] [--min-utterances 20] [--seed 0] [--no-speakers] [--audio-column ...]
    python pipelines/recipe.py voice -o DIR --name NAME --tts RUN/best [--vocoder RUN/best] [--data data/x]
        [--scores scores.json] --command "..." [--smoke]
    python pipelines/recipe.py recognizer -o DIR --name NAME --model RUN/best [--data data/x] [--eval NAME=DIR ...]
        --command "..." [--smoke]

A packaging command prints the folder's path as its last line. Problems come out as one line and exit 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from speech.data.clean import Limits, prepare, skip_summary
from speech.errors import SpeechError
from speech.package import package_recognizer, package_voice

log = logging.getLogger("recipe")


def _json(path: Path | None) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path and path.is_file() else None


def run_prepare(args: argparse.Namespace) -> None:
    limits = Limits(args.min_seconds, args.max_seconds, args.min_rate, args.min_utterances)
    options = {
        name: getattr(args, name)
        for name in ("audio_column", "text_column", "speaker_column", "delimiter", "split")
        if getattr(args, name) is not None
    }
    with tqdm(unit="item", desc="importing, then cleaning", disable=None) as progress:
        prepared = prepare(
            args.format,
            args.source,
            args.out,
            limits,
            args.seed,
            not args.no_speakers,
            progress.update,
            **options,
        )
    splits = ", ".join(
        f"{name} {len(u)} ({sum(x.duration for x in u) / 3600:.2f} h)" for name, u in prepared.splits.items()
    )
    log.info(
        "%s: %d entries, %s; split %s: %s",
        args.source,
        prepared.entries,
        skip_summary(prepared.skipped),
        prepared.split_rule,
        splits,
    )


def run_voice(args: argparse.Namespace) -> None:
    corpus = _json(args.data / "corpus.json") if args.data else None
    scores = _json(args.scores)
    print(
        package_voice(args.out, args.name, args.tts, args.vocoder, corpus, scores, args.command, args.smoke)
    )


def run_recognizer(args: argparse.Namespace) -> None:
    corpus = _json(args.data / "corpus.json") if args.data else None
    evals = []
    for item in args.eval:
        name, _, folder = item.partition("=")
        runs = {kind: _json(Path(folder) / f"{kind}.json") for kind in ("before", "greedy", "beam")}
        evals.append((name, {kind: scores for kind, scores in runs.items() if scores}))
    print(package_recognizer(args.out, args.name, args.model, corpus, evals, args.command, args.smoke))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command_name", required=True)

    p = commands.add_parser("prepare", help="import, clean (16 kHz FLAC), split; report what was left out")
    p.add_argument("source", help="corpus folder, or the CSV file for --format csv")
    p.add_argument(
        "--format", required=True, help="ljspeech, folder, csv, kaldi, librispeech, commonvoice, sphinx"
    )
    p.add_argument("--out", type=Path, required=True, help="data folder to write")
    p.add_argument("--min-seconds", type=float, default=0.5, help="shorter clips are left out (default 0.5)")
    p.add_argument("--max-seconds", type=float, default=20.0, help="longer clips are left out (default 20)")
    p.add_argument("--min-rate", type=int, default=0, help="clips recorded below this rate are left out")
    p.add_argument("--min-utterances", type=int, default=20, help="stop if fewer are left to train on")
    p.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    p.add_argument(
        "--no-speakers", action="store_true", help="split by utterance even when speakers are known"
    )
    for option in ("--audio-column", "--text-column", "--speaker-column", "--delimiter", "--split"):
        p.add_argument(option, help="as speech prepare takes it")
    p.set_defaults(run=run_prepare)

    p = commands.add_parser("voice", help="package a voice folder with its model card")
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--name", required=True, help="the model's name, for the card")
    p.add_argument("--tts", type=Path, required=True, help="acoustic model folder (RUN/best)")
    p.add_argument("--vocoder", type=Path, help="vocoder folder, if one was trained")
    p.add_argument("--data", type=Path, help="the data folder (its corpus.json)")
    p.add_argument("--scores", type=Path, help="pipelines/voice/score.py's JSON")
    p.add_argument("--command", required=True, help="the recipe command, for the card")
    p.add_argument("--smoke", action="store_true")
    p.set_defaults(run=run_voice)

    p = commands.add_parser("recognizer", help="package a recognizer folder with its model card")
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--name", required=True, help="the model's name, for the card")
    p.add_argument("--model", type=Path, required=True, help="model folder with its decoder files")
    p.add_argument("--data", type=Path, help="the data folder (its corpus.json)")
    p.add_argument(
        "--eval",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="a test set's name and the folder of its before/greedy/beam.json (speech eval --json)",
    )
    p.add_argument("--command", required=True, help="the recipe command, for the card")
    p.add_argument("--smoke", action="store_true")
    p.set_defaults(run=run_recognizer)

    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        args.run(args)
    except SpeechError as error:
        print(f"{Path(sys.argv[0]).name} {args.command_name}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
