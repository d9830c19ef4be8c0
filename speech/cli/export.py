"""``speech export``: a model folder's network as ONNX, for onnxruntime."""

from __future__ import annotations

import argparse

from speech.assets import ASR_MODEL
from speech.errors import SpeechError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a recognizer's acoustic model as ONNX (for speech transcribe --backend onnx)",
        description="Write the network of a recognizer (or phoneme aligner) model folder as ONNX, with dynamic "
        "batch and time axes: log-mel features and their lengths in, CTC log-probabilities out. Features and "
        "decoding stay in the toolkit. The file goes beside the weights (MODEL/model.onnx) unless -o says "
        "otherwise; --int8 also writes onnxruntime's dynamically quantised copy (model.int8.onnx).",
    )
    parser.add_argument(
        "model", nargs="?", default=str(ASR_MODEL), help="model folder (default: the shipped recognizer)"
    )
    parser.add_argument("--format", choices=("onnx",), default="onnx", help="export format (default: onnx)")
    parser.add_argument("-o", "--out", help="the ONNX file to write (default: MODEL/model.onnx)")
    parser.add_argument("--int8", action="store_true", help="also write the int8 quantised model beside it")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from speech.export import export_onnx  # imports torch: only when the command runs

    if args.out and not args.out.endswith(".onnx"):
        raise SpeechError(f"{args.out}: the output must be an .onnx file")
    print(export_onnx(args.model, args.out, args.int8))
    return 0
