"""``POST /v1/audio/transcriptions``: OpenAI's transcription endpoint over :class:`speech.Recognizer`.

The upload is decoded from memory (never from a path the request names), in a worker thread, after its
header says how long it is: a small compressed file cannot make the server decode hours of audio. Responses
are rendered by :mod:`speech.transcript`, so they agree with ``speech transcribe``'s files.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import PurePath

import numpy as np
import soundfile as sf
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.datastructures import UploadFile

from speech.audio import AudioError, decode_audio
from speech.serve.errors import ApiError
from speech.serve.state import Services
from speech.transcript import Transcript, render_srt, render_txt, render_vtt

router = APIRouter()

FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
ENGLISH = ("en", "eng", "english")
UNRECOGNISED = "not a recognised audio format"


def check_language(language: str | None) -> None:
    """English only (``en``, ``en-GB``, ``english``); anything else is refused rather than misheard."""
    if language and language.strip().lower().split("-")[0].split("_")[0] not in ENGLISH:
        raise ApiError(
            400, f"language '{language}' is not supported: this recognizer is English only", "language"
        )


def decode_upload(data: bytes, name: str, rate: int, max_seconds: float) -> np.ndarray:
    """The upload's samples at ``rate``: 415 for a format this server cannot read, 400 for a damaged file,
    413 for one longer than ``max_seconds`` (told by its header, before decoding)."""
    try:
        info = sf.info(io.BytesIO(data))
        seconds = info.frames / info.samplerate if info.samplerate else 0.0
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError):
        seconds = 0.0  # decode_audio says what is wrong
    if seconds > max_seconds:
        raise ApiError(
            413, f"{name}: {seconds:.1f} s of audio; this server takes at most {max_seconds:g} s", "file"
        )
    try:
        samples, _ = decode_audio(data, name, rate)
    except AudioError as error:
        raise ApiError(415 if UNRECOGNISED in error.problem else 400, str(error), "file") from None
    if len(samples) / rate > max_seconds:  # a header may understate the length
        raise ApiError(413, f"{name}: longer than the {max_seconds:g} s this server takes", "file")
    return samples


def verbose(transcript: Transcript, words: bool) -> dict:
    """OpenAI's ``verbose_json``: segments (with the fields its clients require) and, if asked, words."""
    segments = []
    for number, segment in enumerate(transcript.segments):
        probabilities = [max(w.confidence, 1e-6) for w in segment.words]
        segments.append(
            {
                "id": number,
                "seek": 0,
                "start": segment.start,
                "end": segment.end,
                "text": segment.text,
                "tokens": [],
                "temperature": 0.0,
                "avg_logprob": float(np.mean(np.log(probabilities))) if probabilities else 0.0,
                "compression_ratio": 1.0,
                "no_speech_prob": 0.0,
            }
        )
    body = {
        "task": "transcribe",
        "language": "english",
        "duration": transcript.duration,
        "text": transcript.text,
        "segments": segments,
    }
    if words:
        body["words"] = [
            {"word": w.text, "start": w.start, "end": w.end, "probability": w.confidence}
            for w in transcript.words
        ]
    return body


def render(transcript: Transcript, response_format: str, words: bool) -> Response:
    if response_format == "json":
        return JSONResponse({"text": transcript.text})
    if response_format == "verbose_json":
        return JSONResponse(verbose(transcript, words))
    if response_format == "text":
        return PlainTextResponse(render_txt(transcript))
    if response_format == "srt":
        return PlainTextResponse(render_srt(transcript), media_type="application/x-subrip")
    return PlainTextResponse(render_vtt(transcript), media_type="text/vtt")


async def _form(request: Request):
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise ApiError(415, "send the audio as multipart/form-data with a 'file' part")
    return await request.form(max_files=1, max_fields=32, max_part_size=64 * 1024)


@router.post("/v1/audio/transcriptions")
async def transcriptions(request: Request) -> Response:
    services: Services = request.app.state.services
    config = services.config
    form = await _form(request)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ApiError(400, "no audio: send the recording as the multipart 'file' part", "file")
    services.check_asr_model(_field(form, "model"))
    check_language(_field(form, "language"))
    response_format = (_field(form, "response_format") or "json").lower()
    if response_format not in FORMATS:
        raise ApiError(
            400,
            f"unsupported response_format '{response_format}': use {', '.join(FORMATS)}",
            "response_format",
        )
    if (_field(form, "stream") or "false").lower() not in ("false", "0", ""):
        raise ApiError(
            400, "stream is not supported here; use the WebSocket /v1/audio/transcriptions/stream", "stream"
        )
    granularities = form.getlist("timestamp_granularities[]") + form.getlist("timestamp_granularities")
    unknown = [g for g in granularities if g not in ("word", "segment")]
    if unknown:
        raise ApiError(
            400,
            f"timestamp_granularities: unknown '{unknown[0]}' (use word, segment)",
            "timestamp_granularities",
        )
    name = PurePath(upload.filename or "upload").name or "upload"
    data = await upload.read()
    rate = services.recognizer.features.sample_rate
    samples = await asyncio.to_thread(decode_upload, data, name, rate, config.max_audio_seconds)
    try:
        transcript = await asyncio.wait_for(
            services.batcher.transcribe(samples, rate), config.timeout_seconds
        )
    except (asyncio.TimeoutError, TimeoutError):
        raise ApiError(504, f"transcription took longer than {config.timeout_seconds:g} s") from None
    return render(transcript, response_format, "word" in granularities)


def _field(form, name: str) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"{name}: expected a text field, got a file", name)
    return value.strip()
