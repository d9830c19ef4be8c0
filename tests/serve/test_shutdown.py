"""SIGTERM while a response is streaming: the server stops taking connections and finishes the response."""

from __future__ import annotations

import signal

import httpx
import pytest

from .conftest import STOPPED, start_server

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
            assert len(received) < len(whole)  # the rest was not made yet
            for piece in pieces:
                received += piece
        assert received == whole
        assert server.process.wait(timeout=60) in STOPPED
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.url}/health", timeout=5)
    finally:
        if server.process.poll() is None:
            server.process.kill()
        server.process.wait()
    assert "Traceback" not in "".join(server.log)
