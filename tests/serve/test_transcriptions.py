"""``POST /v1/audio/transcriptions`` through real clients (the ``openai`` package, curl, httpx) on real speech,
and every kind of bad request answered with a one-line OpenAI-style JSON error."""

from __future__ import annotations

import io
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest

from speech.audio import encode_audio, read_audio
from speech.cli import main
from speech.recognizer import Recognizer
from speech.transcript import render_srt, render_vtt

from .conftest import MAX_AUDIO_SECONDS, MAX_UPLOAD_MB, WORKERS, one_line_error


@pytest.fixture(scope="module")
def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def local() -> Recognizer:
    """The same model in this process: what the server must answer."""
    return Recognizer.load()


def expected(local: Recognizer, path: Path):
    return local.transcribe_file(path)


def test_openai_client_json_and_text(client, local, clip) -> None:
    with clip.open("rb") as audio:
        result = client.audio.transcriptions.create(model="whisper-1", file=audio)
    assert result.text == expected(local, clip).text and result.text
    with clip.open("rb") as audio:
        text = client.audio.transcriptions.create(model="speech-asr", file=audio, response_format="text")
    assert text.strip() == result.text


def test_openai_client_verbose_json_with_words(client, local, clip) -> None:
    with clip.open("rb") as audio:
        result = client.audio.transcriptions.create(
            model="whisper-1",
            file=audio,
            response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
            language="en",
        )
    transcript = expected(local, clip)
    assert result.language == "english" and result.duration == pytest.approx(transcript.duration)
    assert [s.text for s in result.segments] == [s.text for s in transcript.segments]
    assert [(w.word, w.start, w.end) for w in result.words] == [
        (w.text, w.start, w.end) for w in transcript.words
    ]
    assert all(0 <= w.start <= w.end <= result.duration for w in result.words)
    with clip.open("rb") as audio:
        plain = client.audio.transcriptions.create(
            model="whisper-1", file=audio, response_format="verbose_json"
        )
    assert plain.segments and not plain.words  # words only when asked for


def test_openai_client_subtitles(client, local, clip) -> None:
    transcript = expected(local, clip)
    for name, render in (("srt", render_srt), ("vtt", render_vtt)):
        with clip.open("rb") as audio:
            subtitles = client.audio.transcriptions.create(
                model="whisper-1", file=audio, response_format=name
            )
        assert subtitles == render(transcript), name


def test_curl_multipart_and_other_formats(server, local, clip, tmp_path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    samples, rate = read_audio(clip)
    flac = tmp_path / "clip.flac"
    flac.write_bytes(encode_audio(samples, rate, "FLAC"))
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "-F",
            f"file=@{flac}",
            "-F",
            "response_format=text",
            f"{server.url}/v1/audio/transcriptions",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.strip() == expected(local, clip).text


def test_requests_at_once_are_batched_and_answered_alike(server, local, clips) -> None:
    def post(path: Path) -> str:
        response = httpx.post(
            f"{server.url}/v1/audio/transcriptions",
            files={"file": (path.name, path.read_bytes())},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        return response.json()["text"]

    before = httpx.get(f"{server.url}/health").json()
    with ThreadPoolExecutor(16) as pool:
        texts = list(pool.map(post, clips * 4))
    after = httpx.get(f"{server.url}/health").json()
    assert texts == [expected(local, path).text for path in clips] * 4  # whichever worker ran them
    requests, batches = after["requests"] - before["requests"], after["batches"] - before["batches"]
    assert requests == 20 and batches < requests, (requests, batches)
    assert after["workers"] == WORKERS


def post(server, files=None, data=None, **kwargs) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/audio/transcriptions", files=files, data=data, timeout=60, **kwargs)


def test_too_large_uploads_are_413(server, client, clip) -> None:
    big = b"\0" * (MAX_UPLOAD_MB * 1_000_000 + 1000)
    assert "too large" in one_line_error(post(server, files={"file": ("big.wav", big)}), 413)
    with pytest.raises(openai.APIStatusError) as error:
        client.audio.transcriptions.create(model="whisper-1", file=("big.wav", big))
    assert error.value.status_code == 413

    def chunked():  # no Content-Length: cut off as it passes the limit
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        for _ in range(MAX_UPLOAD_MB * 10 + 10):
            yield b"\0" * 100_000
        yield b"\r\n--x--\r\n"

    response = post(server, content=chunked(), headers={"content-type": "multipart/form-data; boundary=x"})
    assert "too large" in one_line_error(response, 413)


def test_too_long_audio_is_413(server) -> None:
    silence = encode_audio(np.zeros((MAX_AUDIO_SECONDS + 10) * 8000, np.float32), 8000, "FLAC")  # small, long
    assert len(silence) < MAX_UPLOAD_MB * 1_000_000
    message = one_line_error(post(server, files={"file": ("long.flac", silence)}), 413)
    assert "long.flac" in message and f"{MAX_AUDIO_SECONDS}" in message


def test_bad_audio_is_400_or_415(server, clip) -> None:
    wav = clip.read_bytes()
    cases = {
        "noise.wav": (np.random.default_rng(0).bytes(5000), 415),
        "notes.txt": (b"hello, this is text\n", 415),
        "cut.wav": (wav[: len(wav) // 2 + 1][:44] + b"\x01", 400),
        "empty.wav": (b"", 400),
    }
    for name, (data, status) in cases.items():
        message = one_line_error(post(server, files={"file": (name, data)}), status)
        assert name in message, message


def test_a_request_never_names_a_server_file(server, clip) -> None:
    """A path where the audio should be is not audio; a path as the file name is only a name."""
    message = one_line_error(post(server, files={"file": (None, str(clip))}), 400)
    assert "no audio" in message
    response = post(server, files={"file": ("../../../etc/passwd", b"garbage bytes")})
    message = one_line_error(response, 415)
    assert message.startswith("passwd:") and "/etc" not in message


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        ({"response_format": "mp3"}, 400, "response_format"),
        ({"language": "de"}, 400, "English only"),
        ({"model": "whisper-large-v9"}, 404, "does not exist"),
        ({"timestamp_granularities[]": "phoneme"}, 400, "phoneme"),
        ({"stream": "true"}, 400, "WebSocket"),
    ],
)
def test_bad_options(server, clip, data, status, words) -> None:
    response = post(server, files={"file": (clip.name, clip.read_bytes())}, data=data)
    assert words in one_line_error(response, status)


def test_not_multipart_and_unknown_routes(server) -> None:
    assert "multipart" in one_line_error(post(server, json={"file": "x"}), 415)
    assert "no audio" in one_line_error(post(server, files={"other": ("a.wav", b"x")}), 400)
    one_line_error(httpx.get(f"{server.url}/v1/audio/transcriptions"), 405)
    assert "/v1/nothing" in one_line_error(httpx.get(f"{server.url}/v1/nothing"), 404)


def test_models_and_health(server) -> None:
    models = httpx.get(f"{server.url}/v1/models").json()
    ids = {model["id"] for model in models["data"]}
    assert ids == {"speech-asr", "speech-tts"} and models["object"] == "list"
    assert httpx.get(f"{server.url}/health").json()["status"] == "ok"


def test_workers_must_be_a_sensible_count(capsys) -> None:
    assert main(["serve", "--workers", "0", "--port", "0"]) == 1
    assert capsys.readouterr().err.strip().endswith("error: --workers must be 1 to 64, got 0")


def test_the_upload_is_decoded_from_memory(server, clip, monkeypatch) -> None:
    """An MP3-named WAV and a WAV upload read the same: the name is never used to open anything."""
    data = clip.read_bytes()
    a = post(server, files={"file": ("x.mp3", data)}).json()["text"]
    b = post(server, files={"file": ("clip.wav", io.BytesIO(data))}).json()["text"]
    assert a == b
