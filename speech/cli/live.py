"""``speech transcribe --stream``: live transcription of raw PCM on standard input, a line per segment.

    arecord -f S16_LE -r 16000 -c 1 | speech transcribe --stream
    ffmpeg -i talk.mp3 -f s16le -ac 1 -ar 16000 - | speech transcribe --stream --partial

Each segment is printed as ``[start --> end] text`` (seconds from the start of the stream) when the pause that
ends it is heard. With ``--partial`` the open segment's text so far is shown every half second: redrawn in
place on a terminal, else printed as a line starting with ``~``. The cutting lives in :mod:`speech.stream`,
shared with the server's WebSocket endpoint.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from speech.errors import SpeechError
from speech.stream import MAX_SECONDS, Event, Final, LiveTranscriber, PCMDecoder

READ_SECONDS = 0.1  # at most this much audio per read: a pause is heard within a read of its end
PARTIAL_SECONDS = 0.5


def add_stream_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stream",
        action="store_true",
        help="transcribe raw 16-bit mono PCM from standard input live, printing each segment as it ends",
    )
    parser.add_argument(
        "--sample-rate",
        type=int,
        default=16000,
        metavar="HZ",
        help="with --stream: the PCM's sample rate (default: 16000)",
    )
    parser.add_argument(
        "--partial", action="store_true", help="with --stream: show the text so far every half second"
    )
    parser.add_argument(
        "--max-segment-seconds",
        type=float,
        default=MAX_SECONDS,
        help=f"with --stream: cut a segment without a pause at this length (default: {MAX_SECONDS:g})",
    )


class Printer:
    """Writes events as lines; a partial is redrawn in place on a terminal and replaced by its final."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.terminal = out.isatty()

    def __call__(self, event: Event) -> None:
        if isinstance(event, Final):
            line = f"{_times(event.segment.start, event.segment.end)} {event.segment.text}\n"
        elif self.terminal:
            line = f"{_times(event.start, event.end)} {event.text}"
        else:
            line = f"~{_times(event.start, event.end)} {event.text}\n"
        if self.terminal:
            line = "\r\x1b[K" + line
        self.out.write(line)
        self.out.flush()


def _times(start: float, end: float) -> str:
    return f"[{start:8.2f} --> {end:8.2f}]"


def run_stream(args: argparse.Namespace) -> int:
    if args.inputs:
        raise SpeechError("--stream reads PCM from standard input: give no INPUT")
    from speech.cli.options import load_recognizer

    partial = PARTIAL_SECONDS if args.partial else None
    # checked before the model loads, so a bad option fails at once
    LiveTranscriber(None, args.sample_rate, partial, args.max_segment_seconds)
    transcriber = LiveTranscriber(load_recognizer(args), args.sample_rate, partial, args.max_segment_seconds)
    decode = PCMDecoder()
    show = Printer(sys.stdout)
    stdin = sys.stdin.buffer
    chunk = max(2, int(args.sample_rate * READ_SECONDS) * 2)
    try:
        while data := stdin.read1(chunk):
            for event in transcriber.feed(decode(data)):
                show(event)
    except KeyboardInterrupt:  # Ctrl-C ends the stream: what was heard is still printed
        pass
    for event in transcriber.finish():
        show(event)
    return 0
