"""Options shared by the sub-commands, so that one idea has one spelling everywhere.

The vocabulary (``tests/test_cli_vocabulary.py`` walks every sub-command's parser and holds it):

- ``-o/--out``: where the outputs go. A folder of outputs also answers to Whisper's ``--output_dir`` (and
  ``--output-dir``); a single file (a manifest) does not, since it is no folder.
- ``--format``: which output formats; ``--model``: the model folder, defaulting to the shipped model where one
  ships; ``--device``: ``cpu`` (default), ``cuda`` or ``cuda:N``; ``--overwrite``: redo finished outputs;
  ``--json PATH``: a machine-readable report of the run.
"""

from __future__ import annotations

import argparse
import logging

from speech.assets import ASR_MODEL

log = logging.getLogger(__name__)

FOLDER_ALIASES = ("--output-dir", "--output_dir")  # Whisper's spelling, and the usual dashed one


class DeprecatedAlias(argparse.Action):
    """An old spelling kept working for a release: it stores into the new option's destination and says, once
    per use, which spelling to use instead. Hidden from ``--help`` so that new users learn only one."""

    def __init__(self, option_strings: list[str], dest: str, instead: str, **kwargs) -> None:
        self.instead = instead
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        log.warning("%s is deprecated and will be removed; use %s", option_string, self.instead)
        setattr(namespace, self.dest, values)


def add_output_folder(
    parser: argparse.ArgumentParser,
    what: str,
    required: bool = False,
    default: str | None = ".",
    help: str | None = None,
) -> None:
    """``-o/--out`` (alias ``--output_dir``/``--output-dir``) for a folder of ``what``; ``help`` replaces
    the usual help line where the default is not the current folder."""
    if help is None:
        help = f"folder for {what}" + ("" if required else " (default: current folder)")
    parser.add_argument(
        "-o",
        "--out",
        *FOLDER_ALIASES,
        dest="out",
        metavar="FOLDER",
        required=required,
        default=None if required else default,
        help=help,
    )


def add_output_file(
    parser: argparse.ArgumentParser, what: str, metavar: str = "FILE", required: bool = True
) -> None:
    """``-o/--out`` naming the one file a command writes (``what``). ``required=False`` where a deprecated
    spelling may give it instead (argparse counts only ``-o/--out`` itself): the command checks then."""
    parser.add_argument("-o", "--out", dest="out", metavar=metavar, required=required, help=what)


def add_device_option(parser: argparse.ArgumentParser, what: str = "") -> None:
    parser.add_argument("--device", default="cpu", help=f"cpu, cuda or cuda:N{what} (default: cpu)")


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
    parser.add_argument(
        "--min-confidence",
        type=float,
        default=0.5,
        help="drop stretches between pauses whose words' mean confidence is lower, or with under 1.5 "
        "letters a second: noise, not speech; 0 keeps everything (default: 0.5)",
    )
    parser.add_argument(
        "--backend",
        choices=("auto", "torch", "onnx", "onnx-int8"),
        default="auto",
        help="run the acoustic model in PyTorch, or in onnxruntime as speech export wrote it; auto: "
        "onnxruntime on the CPU when the model folder holds an export of its current weights (the shipped "
        "model does), else PyTorch (default: auto)",
    )
    add_device_option(parser)


def load_recognizer(args: argparse.Namespace):
    from speech.recognizer import Recognizer  # only when a command runs

    return Recognizer.load(
        args.model, args.device, args.beam, args.lm, args.lexicon, args.min_confidence, args.backend
    )
