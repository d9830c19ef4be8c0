"""Every failed request answers as OpenAI's API does: ``{"error": {"message", "type", "param", "code"}}``.

OpenAI's clients read that shape to raise their typed errors, so tools written for them report our errors
well. The message is always one line (a file name with a newline cannot split it) and never a traceback: a bug
shows the client only that the server failed, and the server's log gets the traceback.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from speech.errors import SpeechError, shown

log = logging.getLogger(__name__)

REASONS = {400: "bad request", 404: "not found", 405: "method not allowed", 413: "request too large"}


class ApiError(HTTPException):
    """A request the server refuses, with its status and one-line message.

    An ``HTTPException``, so that FastAPI passes it through its own body parsing untouched."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(status, message)
        self.param, self.code = param, code


def error_body(status: int, message: str, param: str | None = None, code: str | None = None) -> dict:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"message": shown(message), "type": kind, "param": param, "code": code}}


def error_response(status: int, message: str, param: str | None = None, code: str | None = None):
    return JSONResponse(error_body(status, message, param, code), status_code=status)


def _validation_message(error: RequestValidationError) -> tuple[str, str | None]:
    """The first problem as ``field: what is wrong`` (pydantic lists them all, over many lines)."""
    problems = error.errors()
    if not problems:
        return "invalid request", None
    first = problems[0]
    where = [str(part) for part in first.get("loc", ()) if part != "body"]
    message = first.get("msg", "invalid value")
    if first.get("type") == "json_invalid":
        return f"the body is not valid JSON ({first.get('ctx', {}).get('error', 'malformed')})", None
    field = ".".join(where) or None
    return (f"{field}: {message}" if field else message), field


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, error: HTTPException):
        if isinstance(error, ApiError):
            return error_response(error.status_code, error.detail, error.param, error.code)
        detail = error.detail if isinstance(error.detail, str) else None
        message = detail or REASONS.get(error.status_code, "request failed")
        if error.status_code == 404 and detail == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}"
        return error_response(error.status_code, message)

    async def invalid(request: Request, error: RequestValidationError):
        message, param = _validation_message(error)
        return error_response(422, message, param)

    async def speech_error(request: Request, error: SpeechError):
        return error_response(400, str(error))

    async def bug(request: Request, error: Exception):
        log.exception("%s %s failed", request.method, request.url.path)
        return error_response(500, "internal server error (the server's log has the details)")

    app.add_exception_handler(HTTPException, api_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(SpeechError, speech_error)
    app.add_exception_handler(Exception, bug)
