"""Checked reads of JSON records (manifest lines, transcripts): a value of the wrong type is a one-line
:class:`SpeechError` saying where and which key, never a traceback further on, nor a value quietly turned
into something else (``"text": ["a"]`` read as the string ``"['a']"``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from speech.errors import SpeechError


def mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SpeechError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def field(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise SpeechError(f"{where}: missing '{key}'")
    return data[key]


def present(data: Mapping[str, Any], key: str, *former: str) -> str:
    """The key ``data`` holds a field under: ``key``, else the first of its ``former`` names found (a record
    written before a rename), else ``key`` again, so that a missing field is reported by its current name."""
    return next((name for name in (key, *former) if name in data), key)


def string(data: Mapping[str, Any], key: str, where: str) -> str:
    value = field(data, key, where)
    if not isinstance(value, str):
        raise SpeechError(f"{where}: '{key}' must be a string, got {type(value).__name__}")
    return value


def label(data: Mapping[str, Any], key: str, where: str) -> str:
    """A name such as an id or a speaker: a string, or an integer (numeric ids are common) as its digits."""
    value = field(data, key, where)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return string(data, key, where)


def number(data: Mapping[str, Any], key: str, where: str, minimum: float | None = None) -> float:
    value = field(data, key, where)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SpeechError(f"{where}: '{key}' must be a finite number, got {_brief(value)}")
    if minimum is not None and value < minimum:
        raise SpeechError(f"{where}: '{key}' must be at least {minimum:g}, got {value!r}")
    return float(value)


def items(data: Mapping[str, Any], key: str, where: str, required: bool = True) -> list[Any]:
    value = field(data, key, where) if required or key in data else []
    if not isinstance(value, list | tuple):
        raise SpeechError(f"{where}: '{key}' must be a list, got {type(value).__name__}")
    return list(value)


def _brief(value: Any, limit: int = 40) -> str:
    """A value for a message: its repr, cut short (a whole list or a long string would not fit a line)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
