"""``POST /v1/audio/speech``: OpenAI's speech endpoint over :class:`speech.Synthesizer`.

WAV and raw PCM are streamed (chunked transfer) as :meth:`speech.Synthesizer.stream` makes each piece, the first
piece one sentence, so a client starts playing before a long text is done; the first piece is made before the
response starts, so a text with nothing to say is a 400, not an empty 200. FLAC needs the whole recording to
write its header, so it is sent whole. Synthesis runs on its own thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from speech.audio import encode_audio, pcm16, streaming_wav_header
from speech.serve.errors import ApiError
from speech.serve.state import Services
from speech.synthesizer import MAX_RATE, MIN_RATE

log = logging.getLogger(__name__)
router = APIRouter()

MEDIA_TYPES = {"wav": "audio/wav", "pcm": "audio/pcm", "flac": "audio/flac"}


class SpeechRequest(BaseModel):
    """OpenAI's request body; ``instructions`` is accepted and ignored (this voice takes no style prompt)."""

    model_config = ConfigDict(extra="ignore")

    input: str = Field(min_length=1)
    model: str | None = None
    voice: str | None = None
    response_format: str = "wav"
    speed: float = Field(1.0, ge=MIN_RATE, le=MAX_RATE)
    instructions: str | None = None
    stream_format: str | None = None


@router.post("/v1/audio/speech")
async def speech(body: SpeechRequest, request: Request) -> Response:
    services: Services = request.app.state.services
    config = services.config
    if len(body.input) > config.max_input_chars:
        raise ApiError(
            400,
            f"input: {len(body.input)} characters; this server takes at most {config.max_input_chars}",
            "input",
        )
    response_format = body.response_format.lower()
    if response_format not in MEDIA_TYPES:
        raise ApiError(
            400,
            f"unsupported response_format '{body.response_format}': use {', '.join(MEDIA_TYPES)}",
            "response_format",
        )
    if body.stream_format not in (None, "audio"):
        raise ApiError(400, f"unsupported stream_format '{body.stream_format}': use audio", "stream_format")
    synthesizer = services.synthesizer(body.model, body.voice)
    rate = synthesizer.sample_rate
    services.open_stream()
    chunks = synthesizer.stream(body.input, rate=body.speed)
    try:
        first = await _next(services, chunks)
    except BaseException:
        services.close_stream()
        _close(services, chunks)
        raise
    headers = {"X-Sample-Rate": str(rate)}
    if response_format == "flac":
        try:
            rest = await _wait(
                services, asyncio.get_running_loop().run_in_executor(services.voice_thread, list, chunks)
            )
        finally:
            services.close_stream()
        audio = encode_audio(np.concatenate([first, *rest]), rate, "FLAC")
        return Response(audio, media_type=MEDIA_TYPES["flac"], headers=headers)
    header = streaming_wav_header(rate) if response_format == "wav" else b""
    return StreamingResponse(
        _body(services, header, first, chunks), media_type=MEDIA_TYPES[response_format], headers=headers
    )


async def _body(
    services: Services, header: bytes, first: np.ndarray, chunks: Iterator[np.ndarray]
) -> AsyncIterator[bytes]:
    """The response's bytes, a piece at a time; a failure after the first piece ends the stream early (the
    status line has been sent), and the server's log says why."""
    try:
        yield header + pcm16(first)
        while (chunk := await _next(services, chunks)) is not None:
            yield pcm16(chunk)
    except Exception:
        log.exception("speech stream stopped early")
    finally:
        _close(services, chunks)
        services.close_stream()


def _close(services: Services, chunks: Iterator[np.ndarray]) -> None:
    """Stop a stream on the synthesis thread, after any piece it is still making (a generator cannot be
    closed while it runs)."""
    try:
        services.voice_thread.submit(chunks.close)
    except RuntimeError:  # the thread has stopped (the server is shutting down): nothing runs the generator
        chunks.close()


async def _next(services: Services, chunks: Iterator[np.ndarray]) -> np.ndarray | None:
    """The next piece of audio, made on the synthesis thread; None at the end."""
    return await _wait(
        services, asyncio.get_running_loop().run_in_executor(services.voice_thread, next, chunks, None)
    )


async def _wait(services: Services, work: asyncio.Future):
    timeout = services.config.timeout_seconds
    try:
        return await asyncio.wait_for(work, timeout)
    except (asyncio.TimeoutError, TimeoutError):
        raise ApiError(504, f"synthesis took longer than {timeout:g} s") from None
