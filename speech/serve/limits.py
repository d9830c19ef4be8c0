"""The request body limit, enforced before anything reads the body.

Checked at the ASGI level, so an oversized upload is refused from its ``Content-Length`` before a byte is
spooled to disk, and a chunked upload that declares no length is cut off as soon as it passes the limit.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from speech.serve.errors import ApiError, error_response


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"request body too large: this server takes at most {limit / 1e6:g} MB")


class BodyLimit:
    """ASGI middleware: HTTP request bodies of at most ``limit`` bytes; larger ones get a JSON 413."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            error = too_large(self.limit) if declared.isdigit() else ApiError(400, "bad Content-Length")
            await error_response(error.status_code, error.detail)(scope, receive, send)
            return
        received = 0
        started = False

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise too_large(self.limit)
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, watch)
        except ApiError as error:  # raised by limited() where no handler inside caught it
            if started:
                raise
            await error_response(error.status_code, error.detail)(scope, receive, send)
