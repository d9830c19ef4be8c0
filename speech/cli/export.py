"""``speech export``: a model folder's network as ONNX, for onnxruntime: a recognizer's (or aligner's)
acoustic model as one graph, a voice's acoustic model as three (:mod:`speech.tts_export`)."""

from __future__ import annotations

import argparse

from speech.assets import ASR_MODEL
from speech.errors import SpeechError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a recognizer's or a voice's acoustic model as ONNX (for onnxruntime)",
        description="Write the network of a recognizer (or phoneme aligner) model folder as ONNX, with dynamic "
        "batch and time axes: log-mel features and their lengths in, CTC log-probabilities out. Features and "
        "decoding stay in the toolkit. The file goes beside the weights (MODEL/model.onnx) unless -o says "
        "otherwise; --int8 also writes onnxruntime's dynamically quantised copy (model.int8.onnx). For a "
        "voice folder, three graphs: the encoder with the duration predictor, one decoder step and the "
        "post-net (tts_*.onnx, into the voice folder unless -o names another folder); the frame loop runs "
        "in numpy (speech.tts_onnx.OnnxVoiceModel). Synthesis itself keeps running the PyTorch model.",
    )
    parser.add_argument(
        "model", nargs="?", default=str(ASR_MODEL), help="model folder (default: the shipped recognizer)"
    )
    parser.add_argument("--format", choices=("onnx",), default="onnx", help="export format (default: onnx)")
    parser.add_argument(
        "-o", "--out", help="the ONNX file to write (default: MODEL/model.onnx); for a voice, a folder"
    )
    parser.add_argument("--int8", action="store_true", help="also write the int8 quantised model beside it")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from speech.export import export_onnx  # imports torch: only when the command runs
    from speech.model_folder import read_config

    task = read_config(args.model, ("asr", "aligner", "tts"), "a recognizer, aligner or voice")["task"]
    if task == "tts":
        from speech.tts_export import export_voice_onnx

        if args.int8:
            raise SpeechError(f"{args.model}: --int8 is for recognizers; a voice exports in fp32 only")
        for path in export_voice_onnx(args.model, args.out):
            print(path)
        return 0
    if args.out and not args.out.endswith(".onnx"):
        raise SpeechError(f"{args.out}: the output must be an .onnx file")
    print(export_onnx(args.model, args.out, args.int8))
    return 0
