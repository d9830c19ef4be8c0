"""``POST /v1/audio/speech`` through the ``openai`` package and httpx: streamed WAV and PCM, whole FLAC, the
voice names OpenAI's clients send, and bad requests as one-line JSON errors."""

from __future__ import annotations

import io
import time

import httpx
import numpy as np
import openai
import pytest
import soundfile as sf

from .conftest import one_line_error

TEXT = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background."


@pytest.fixture(scope="module")
def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=120)


def speak(server, **body) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/audio/speech", json={"input": TEXT, **body}, timeout=120)


def test_openai_client_streams_wav_sentence_by_sentence(client) -> None:
    started = time.monotonic()
    pieces, arrivals = [], []
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=TEXT, response_format="wav"
    ) as response:
        assert response.headers.get("transfer-encoding") == "chunked"
        for piece in response.iter_bytes():
            pieces.append(piece)
            arrivals.append(time.monotonic() - started)
    samples, rate = sf.read(io.BytesIO(b"".join(pieces)), dtype="float32")
    assert rate == 16000 and 3.0 < len(samples) / rate < 15.0
    assert np.abs(samples).max() > 0.05  # speech, not silence
    first_sentence = len(pieces[0]) - 44  # the header and the first sentence came before the rest was made
    assert 0 < first_sentence < 2 * len(samples)
    assert arrivals[0] < arrivals[-1]


def test_pcm_is_the_wav_without_its_header_and_flac_holds_the_same(server) -> None:
    wav = speak(server, voice="slt", response_format="wav", model="speech-tts").content
    pcm = speak(server, voice="slt", response_format="pcm")
    assert pcm.headers["x-sample-rate"] == "16000"
    assert wav[44:] == pcm.content and len(pcm.content) % 2 == 0
    flac = speak(server, voice="slt", response_format="flac")
    assert flac.headers["content-type"] == "audio/flac" and "content-length" in flac.headers
    samples, _ = sf.read(io.BytesIO(flac.content), dtype="int16")
    pcm_samples = np.frombuffer(pcm.content, "<i2").astype(int)
    assert len(samples) == len(pcm_samples) and np.abs(samples - pcm_samples).max() <= 1  # 2^15 - 1 or 2^15


def test_speed_changes_the_length(server) -> None:
    normal = len(speak(server, response_format="pcm").content)
    fast = len(speak(server, response_format="pcm", speed=2.0).content)
    assert fast < 0.75 * normal


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"voice": "bob"}, 400, "unknown voice 'bob'"),
        ({"response_format": "mp3"}, 400, "response_format"),
        ({"speed": 10}, 422, "speed"),
        ({"input": ""}, 422, "input"),
        ({"input": "x" * 5000}, 400, "4096"),
        ({"input": "!!! ???"}, 400, "nothing to say"),
        ({"model": "tts-9"}, 404, "does not exist"),
        ({"stream_format": "sse"}, 400, "stream_format"),
    ],
)
def test_bad_requests(server, body, status, words) -> None:
    assert words in one_line_error(speak(server, **body), status)


def test_bad_json_and_no_input(server, client) -> None:
    url = f"{server.url}/v1/audio/speech"
    broken = httpx.post(url, content=b'{"input": "hi", ', headers={"content-type": "application/json"})
    assert "not valid JSON" in one_line_error(broken, 422)
    assert "input" in one_line_error(httpx.post(url, json={"voice": "alloy"}), 422)
    assert one_line_error(httpx.post(url, json=["input"]), 422)
    with pytest.raises(openai.BadRequestError) as error:
        client.audio.speech.create(model="tts-1", voice="nobody", input="Hello.")
    assert "unknown voice" in error.value.message
