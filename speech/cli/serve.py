"""``speech serve``: the OpenAI-compatible speech server (``speech.serve``; endpoints in ``docs/serve.md``)."""

from __future__ import annotations

import argparse
import math

from speech.cli.options import add_recognizer_options
from speech.errors import SpeechError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve recognition and synthesis over HTTP (OpenAI's audio API) and WebSocket",
        description="An OpenAI-compatible speech server: POST /v1/audio/transcriptions, POST /v1/audio/speech, "
        "GET /v1/models, GET /health, and live transcription on the WebSocket /v1/audio/transcriptions/stream. "
        "Models are loaded once at start-up; requests from many clients are batched for the recognizer. "
        "SIGTERM stops taking requests and finishes those in flight.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8000, help="port to listen on; 0 takes a free one (default: 8000)"
    )
    add_recognizer_options(parser)
    parser.add_argument(
        "--voice",
        default=None,
        help="the default voice: a shipped voice's name or a voice folder (default: the first shipped)",
    )
    parser.add_argument(
        "--vocoder",
        default=None,
        help="vocoder folder, or griffin-lim (default: the shipped vocoder if there is one)",
    )
    parser.add_argument("--no-tts", action="store_true", help="serve recognition only (no voice is loaded)")
    parser.add_argument(
        "--max-upload-mb", type=float, default=25.0, help="largest request body in MB (default: 25)"
    )
    parser.add_argument(
        "--max-audio-seconds",
        type=float,
        default=1800.0,
        help="longest recording to transcribe (default: 1800)",
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds a request may take (default: 120)"
    )
    parser.add_argument(
        "--batch-window-ms",
        type=float,
        default=5.0,
        help="how long a batch waits for more requests to join it (default: 5)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="recognizer threads, each running its own batches on one core (default: torch's thread "
        "count, OMP_NUM_THREADS)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from speech.serve.app import serve  # imports torch, FastAPI and uvicorn: only when serving
    except ModuleNotFoundError as error:
        raise SpeechError(f"speech serve needs {error.name}: pip install 'speech[serve]'") from None
    from speech.serve.state import ServeConfig

    for name in ("max_upload_mb", "max_audio_seconds", "timeout"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value > 0):
            raise SpeechError(f"--{name.replace('_', '-')} must be a positive number, got {value}")
    if not (math.isfinite(args.batch_window_ms) and 0 <= args.batch_window_ms <= 1000):
        raise SpeechError(f"--batch-window-ms must be 0 to 1000, got {args.batch_window_ms}")
    if args.workers is not None and not 1 <= args.workers <= 64:
        raise SpeechError(f"--workers must be 1 to 64, got {args.workers}")
    if not 0 <= args.port <= 65535:
        raise SpeechError(f"--port must be 0 to 65535, got {args.port}")
    config = ServeConfig(
        asr_model=args.model,
        beam=args.beam,
        lm=args.lm,
        lexicon=args.lexicon,
        min_confidence=args.min_confidence,
        backend=args.backend,
        device=args.device,
        vocoder=args.vocoder,
        tts=not args.no_tts,
        max_upload_bytes=int(args.max_upload_mb * 1e6),
        max_audio_seconds=args.max_audio_seconds,
        timeout_seconds=args.timeout,
        batch_window_seconds=args.batch_window_ms / 1000,
        workers=args.workers,
    )
    if args.voice is not None:
        config.voice = args.voice
    serve(config, args.host, args.port)
    return 0
