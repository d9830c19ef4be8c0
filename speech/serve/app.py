"""The application: routes, error handlers, the body limit, and a lifespan that starts and stops the workers.

:func:`serve` binds the socket itself, so ``--port 0`` takes a free port and the log line names it (tests and
scripts read it), and runs uvicorn, whose SIGTERM handling stops accepting connections and lets requests in
flight finish (within the request timeout) before the workers stop.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import AsyncIterator

import uvicorn
from fastapi import FastAPI, Request

from speech import __version__
from speech.errors import SpeechError
from speech.serve import live, synthesis, transcriptions
from speech.serve.errors import install_error_handlers
from speech.serve.limits import BodyLimit
from speech.serve.state import ASR_ID, OPENAI_ASR, OPENAI_TTS, OPENAI_VOICES, TTS_ID, ServeConfig, Services

log = logging.getLogger(__name__)

WEBSOCKET_MESSAGE_BYTES = 1 << 20  # a larger binary message closes the session (1009)


def create_app(services: Services) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await services.start()
        try:
            yield
        finally:
            await services.stop()

    app = FastAPI(title="speech", version=__version__, lifespan=lifespan)
    app.state.services = services
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=services.config.max_upload_bytes)
    for module in (transcriptions, synthesis, live):
        app.include_router(module.router)

    @app.get("/v1/models")
    async def models() -> dict:
        data = [
            {"id": ASR_ID, "object": "model", "created": 0, "owned_by": "speech", "aliases": list(OPENAI_ASR)}
        ]
        if services.voices:
            data.append(
                {
                    "id": TTS_ID,
                    "object": "model",
                    "created": 0,
                    "owned_by": "speech",
                    "aliases": list(OPENAI_TTS),
                    "voices": list(services.voices),
                    "default_voice": services.default_voice,
                    "voice_aliases": list(OPENAI_VOICES),
                }
            )
        return {"object": "list", "data": data}

    @app.get("/health")
    async def health(request: Request) -> dict:
        batcher = services.batcher
        return {
            "status": "ok",
            "queued": batcher.queue.qsize() if batcher else 0,
            "batches": batcher.batches if batcher else 0,
            "requests": batcher.requests if batcher else 0,
            "streams": services.streams,
            "workers": services.workers,
        }

    return app


def serve(config: ServeConfig, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Load the models, bind ``host:port`` (0: any free port) and serve until SIGTERM or SIGINT."""
    services = Services.load(config)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise SpeechError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    sock.listen(2048)  # connections wait in the backlog until the models are served: ready once logged
    bound = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(services),
            log_config=None,  # uvicorn's loggers go through the speech command's handler
            ws_max_size=WEBSOCKET_MESSAGE_BYTES,
            timeout_graceful_shutdown=int(config.timeout_seconds) + 5,
            server_header=False,
        )
    )
    shown_host = f"[{host}]" if family == socket.AF_INET6 else host
    log.info(
        "speech serve: listening on http://%s:%d (OpenAI base URL http://%s:%d/v1)",
        shown_host,
        bound,
        shown_host,
        bound,
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
