"""A real ``speech serve`` process on a free loopback port, started once for the tests here and stopped by
SIGTERM at the end (which must exit cleanly). Its limits are small so that the 413 tests send little."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from speech.audio import read_audio

MAX_UPLOAD_MB = 2
MAX_AUDIO_SECONDS = 60
WORKERS = 2  # recognizer threads: batches run side by side, as on a 2-core server
# uvicorn finishes the requests in flight on SIGTERM, then ends itself with the signal it caught
STOPPED = (0, -signal.SIGTERM)
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: list[str] = field(default_factory=list)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def start_server(*args: str) -> Server:
    """``speech serve --port 0`` in a child process; returns once it listens (its log is kept)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "speech", "serve", "--host", "127.0.0.1", "--port", "0", *args]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    log: list[str] = []
    watchdog = threading.Timer(120, process.kill)  # a server that never says it listens is killed
    watchdog.start()
    for line in process.stderr:
        log.append(line)
        if match := LISTENING.search(line):
            watchdog.cancel()
            server = Server(match.group(1), process, log)
            threading.Thread(
                target=lambda: log.extend(process.stderr), daemon=True
            ).start()  # keep the pipe empty
            return server
    watchdog.cancel()
    process.wait(timeout=10)
    raise RuntimeError("speech serve did not start:\n" + "".join(log))


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    server = start_server(
        "--max-upload-mb",
        str(MAX_UPLOAD_MB),
        "--max-audio-seconds",
        str(MAX_AUDIO_SECONDS),
        "--workers",
        str(WORKERS),
    )
    try:
        yield server
    finally:
        status = server.stop() if server.process.poll() is None else server.process.returncode
        assert status in STOPPED, "".join(server.log)
        assert "Traceback" not in "".join(server.log), "".join(server.log)


@pytest.fixture(scope="session")
def clip(librivox_dir: Path) -> Path:
    """A 3 s clip of real read speech (16 kHz WAV)."""
    return sorted(librivox_dir.glob("*.wav"))[1]


@pytest.fixture(scope="session")
def clips(librivox_dir: Path) -> list[Path]:
    return sorted(librivox_dir.glob("*.wav"))


def one_line_error(response, status: int) -> str:
    """The OpenAI-style error of a response (any client's), checked: that status, JSON, one line."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"] and "\n" not in error["message"] and "Traceback" not in response.text
    return error["message"]


def pcm16(path: Path, rate: int = 16000) -> bytes:
    samples = read_audio(path, rate)[0]
    return (np.clip(samples, -1, 1) * 32767).round().astype("<i2").tobytes()
