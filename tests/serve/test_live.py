"""The WebSocket ``/v1/audio/transcriptions/stream`` with a real client (``websockets``), on real speech fed as
PCM frames: the same segments as :class:`speech.stream.LiveTranscriber` gives in process, and refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from speech.recognizer import Recognizer
from speech.stream import Final, LiveTranscriber, PCMDecoder

from .conftest import pcm16

FRAME_BYTES = 3200  # 0.1 s at 16 kHz


@pytest.fixture(scope="module")
def pcm(clips) -> bytes:
    gap = b"\0\0" * 16000
    return b"".join(pcm16(path) + gap for path in clips[:3])


def ws_url(server, query: str = "") -> str:
    return server.url.replace("http://", "ws://") + "/v1/audio/transcriptions/stream" + query


def session(server, pcm: bytes, query: str = "") -> list[dict]:
    messages = []
    with connect(ws_url(server, query), open_timeout=30) as ws:
        messages.append(json.loads(ws.recv(timeout=30)))
        for start in range(0, len(pcm), FRAME_BYTES):
            ws.send(pcm[start : start + FRAME_BYTES])
        ws.send(json.dumps({"type": "end"}))
        while True:
            try:
                messages.append(json.loads(ws.recv(timeout=60)))
            except ConnectionClosed:
                break
    return messages


def test_segments_as_the_library_gives_them(server, pcm) -> None:
    messages = session(server, pcm)
    assert messages[0] == {"type": "ready", "sample_rate": 16000} and messages[-1] == {"type": "done"}
    segments = [m for m in messages if m["type"] == "segment"]
    live = LiveTranscriber(Recognizer.load(), 16000)
    samples = PCMDecoder()(pcm)
    expected = [e.segment for e in live.feed(samples) + live.finish() if isinstance(e, Final)]
    assert [(m["start"], m["end"], m["text"]) for m in segments] == [
        (s.start, s.end, s.text) for s in expected
    ]
    assert len(segments) == 3 and all(m["words"] for m in segments)
    assert {"partial"} & {m["type"] for m in messages} == set()  # partials only when asked for


def test_partials_when_asked(server, pcm) -> None:
    messages = session(server, pcm, "?partial=true")
    kinds = [m["type"] for m in messages]
    assert kinds.count("segment") == 3 and kinds.count("partial") >= 3
    first_final = kinds.index("segment")
    assert "partial" in kinds[:first_final]  # heard before its piece ended


def refused(server, query: str = "", send=None) -> tuple[dict, int]:
    with connect(ws_url(server, query), open_timeout=30, max_size=None) as ws:
        if send is not None:
            ws.recv(timeout=30)  # ready
            ws.send(send)
        error = json.loads(ws.recv(timeout=30))
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=30)
        return error, ws.close_code


@pytest.mark.parametrize(
    ("query", "send", "code", "words"),
    [
        ("?sample_rate=abc", None, 1008, "sample_rate"),
        ("?sample_rate=100", None, 1008, "sample rate"),
        ("?max_segment_seconds=1000", None, 1008, "maximum segment"),
        ("", "hello", 1003, "binary"),
        ("", json.dumps({"type": "pause"}), 1003, "binary"),
    ],
)
def test_bad_sessions_get_an_error_message_then_close(server, query, send, code, words) -> None:
    error, close_code = refused(server, query, send)
    assert error["type"] == "error" and words in error["message"] and "\n" not in error["message"]
    assert close_code == code


def test_an_oversized_message_closes_the_session(server) -> None:
    with connect(ws_url(server), open_timeout=30) as ws:
        ws.recv(timeout=30)
        ws.send(np.zeros(600_000, "<i2").tobytes())  # 1.2 MB in one message
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=30)
        assert ws.close_code == 1009
