"""The ``speech`` command: parses arguments, calls the library, prints results.

Each sub-command lives in its own module with ``register(subparsers)``; adding one is adding a module to
``COMMANDS``. Expected failures (bad input, missing files) end with a one-line message and exit status 1;
only a bug in the toolkit shows a traceback.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module

from speech import __version__
from speech.cli.logs import configure_logging
from speech.errors import SpeechError, shown

COMMANDS = [
    "prepare",
    "shard",
    "align",
    "train",
    "transcribe",
    "eval",
    "vocode",
    "synthesize",
    "serve",
    "export",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="speech",
        description="Speech recognition and synthesis with recurrent networks.",
    )
    parser.add_argument("--version", action="version", version=f"speech {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debugging detail")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        import_module(f"speech.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what --nproc runs again under torchrun
    configure_logging(args.verbose, all_ranks=getattr(args, "log_all_ranks", False))
    try:
        return args.run(args) or 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except SpeechError as error:
        print(f"error: {shown(error)}", file=sys.stderr)  # one line, even for a file named with a newline
        return 1
