"""A server's life: SIGTERM while a response streams (the response is finished, new connections refused),
and a request that outlives its timeout."""

from __future__ import annotations

import signal

import httpx
import pytest

from .conftest import STOPPED, one_line_error, start_server

TEXT = "One sentence comes first. Then a second one follows it. And a third ends the text."


def test_sigterm_finishes_the_request_in_flight() -> None:
    server = start_server()
    try:
        url = f"{server.url}/v1/audio/speech"
        whole = httpx.post(url, json={"input": TEXT, "response_format": "pcm"}, timeout=120).content
        received = b""
        with httpx.stream(
            "POST", url, json={"input": TEXT, "response_format": "pcm"}, timeout=120
        ) as response:
            pieces = response.iter_bytes()
            received += next(pieces)
            server.process.send_signal(signal.SIGTERM)
            assert len(received) < len(whole), "".join(server.log)  # the rest was not made yet
            for piece in pieces:
                received += piece
        assert received == whole, "".join(server.log)
        assert server.process.wait(timeout=60) in STOPPED, "".join(server.log)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.url}/health", timeout=5)
    finally:
        if server.process.poll() is None:
            server.process.kill()
        server.process.wait()
    assert "Traceback" not in "".join(server.log), "".join(server.log)


def test_a_request_past_the_timeout_is_a_504_json_error(clip) -> None:
    server = start_server("--no-tts", "--timeout", "0.001")
    try:
        response = httpx.post(
            f"{server.url}/v1/audio/transcriptions",
            files={"file": (clip.name, clip.read_bytes())},
            timeout=60,
        )
        assert "longer than 0.001 s" in one_line_error(response, 504)
        assert httpx.get(f"{server.url}/v1/models").json()["data"][0]["id"] == "speech-asr"
        speech = httpx.post(f"{server.url}/v1/audio/speech", json={"input": "Hi."}, timeout=60)
        assert "no voice" in one_line_error(speech, 404)
    finally:
        server.stop()
