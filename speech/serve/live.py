"""``/v1/audio/transcriptions/stream``: live transcription over a WebSocket (messages in ``docs/serve.md``).

The client sends raw 16-bit mono PCM in binary messages and a ``{"type": "end"}`` text message when it is done;
the server answers with JSON messages: ``ready``, then ``partial`` and ``segment`` as
:class:`speech.stream.LiveTranscriber` produces them, ``done`` after ``end``, or ``error`` before it closes.
Each binary message is recognised before the next is read, so a client sending faster than real time is slowed
by TCP, not buffered without bound; recognition shares the recognizer's thread with the batching queue.
"""

from __future__ import annotations

import asyncio
import json
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from speech.errors import SpeechError, shown
from speech.serve.errors import ApiError
from speech.serve.state import Services
from speech.stream import MAX_SECONDS, PAUSE_SECONDS, Event, Final, LiveTranscriber, PCMDecoder

log = logging.getLogger(__name__)
router = APIRouter()

PARTIAL_SECONDS = 0.5
IDLE_SECONDS = 60.0  # a session that sends nothing this long is closed
POLICY, UNSUPPORTED, TRY_LATER = 1008, 1003, 1013  # WebSocket close codes


def event_message(event: Event) -> dict:
    if isinstance(event, Final):
        segment = event.segment
        words = [
            {"word": w.text, "start": w.start, "end": w.end, "probability": w.confidence}
            for w in segment.words
        ]
        return {
            "type": "segment",
            "start": segment.start,
            "end": segment.end,
            "text": segment.text,
            "words": words,
        }
    return {"type": "partial", "start": event.start, "end": event.end, "text": event.text}


def _options(websocket: WebSocket) -> dict:
    """The session's settings from the URL's query: sample_rate, partial, max_segment_seconds, pause_seconds."""
    query = websocket.query_params

    def number(name: str, kind: type, default: float):
        try:
            return kind(query.get(name, default))
        except ValueError:
            raise SpeechError(f"{name}: not a number ({query[name]!r})") from None

    return {
        "rate": number("sample_rate", int, 16000),
        "partial_seconds": PARTIAL_SECONDS
        if query.get("partial", "false").lower() in ("1", "true")
        else None,
        "max_seconds": number("max_segment_seconds", float, MAX_SECONDS),
        "pause_seconds": number("pause_seconds", float, PAUSE_SECONDS),
    }


async def _refuse(websocket: WebSocket, code: int, message: str) -> None:
    await websocket.send_json({"type": "error", "message": shown(message)})
    await websocket.close(code)


@router.websocket("/v1/audio/transcriptions/stream")
async def transcribe_stream(websocket: WebSocket) -> None:
    services: Services = websocket.app.state.services
    await websocket.accept()
    try:
        options = _options(websocket)
        transcriber = LiveTranscriber(services.recognizer, **options)
    except SpeechError as error:
        await _refuse(websocket, POLICY, str(error))
        return
    try:
        services.open_stream()
    except ApiError as error:
        await _refuse(websocket, TRY_LATER, error.detail)
        return
    try:
        await _session(websocket, services, transcriber)
    except WebSocketDisconnect:
        log.info("live session: the client went away")
    except SpeechError as error:
        await _refuse(websocket, POLICY, str(error))
    finally:
        services.close_stream()


async def _session(websocket: WebSocket, services: Services, transcriber: LiveTranscriber) -> None:
    loop = asyncio.get_running_loop()
    decode = PCMDecoder()
    await websocket.send_json({"type": "ready", "sample_rate": transcriber.rate})
    while True:
        try:
            message = await asyncio.wait_for(websocket.receive(), IDLE_SECONDS)
        except (asyncio.TimeoutError, TimeoutError):
            await _refuse(websocket, POLICY, f"nothing received for {IDLE_SECONDS:g} s")
            return
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        if message.get("bytes") is not None:
            events = await loop.run_in_executor(
                services.model_threads, transcriber.feed, decode(message["bytes"])
            )
        elif _is_end(message.get("text")):
            events = await loop.run_in_executor(services.model_threads, transcriber.finish)
            for event in events:
                await websocket.send_json(event_message(event))
            await websocket.send_json({"type": "done"})
            await websocket.close(1000)
            return
        else:
            await _refuse(
                websocket, UNSUPPORTED, 'send PCM as binary messages, and {"type": "end"} to finish'
            )
            return
        for event in events:
            await websocket.send_json(event_message(event))


def _is_end(text: str | None) -> bool:
    try:
        return json.loads(text or "").get("type") == "end"
    except (ValueError, AttributeError):
        return False
