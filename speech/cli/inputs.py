"""Input lists shared by the batch commands: files, folders (searched recursively), globs, @LIST, -."""

from __future__ import annotations

import glob
import os
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from speech.cli.outputs import OutputNames, safe_stem
from speech.cli.report import note
from speech.errors import SpeechError, shown


def expand_inputs(inputs: list[str], wanted: Callable[[Path], bool]) -> Iterator[tuple[Path, Path]]:
    """(input path, output stem relative to the output folder) for each input, folders mirrored; inside a
    folder only the files ``wanted`` accepts.

    Each input comes once (the same path named twice is one input) and every stem is safe and unique within
    the job (:class:`~speech.cli.outputs.OutputNames`). A glob that matches nothing is taken as a literal
    file name (``take[1].wav`` may be one), so a missing file is reported by the reader like any other.
    """
    names, seen = OutputNames(), set()
    for path, stem in _expand(inputs, wanted, ()):
        key = os.path.abspath(path)
        if key not in seen:
            seen.add(key)
            yield path, names.claim(path, stem)


def _expand(
    inputs: list[str], wanted: Callable[[Path], bool], lists: tuple[str, ...]
) -> Iterator[tuple[Path, Path]]:
    """The inputs in order with their natural stems; ``lists`` are the @LIST files being read (a list that
    names itself, directly or through another, would otherwise recurse until Python gives up)."""
    for item in inputs:
        if item == "-":
            yield from _expand(_lines(sys.stdin), wanted, lists)
        elif item.startswith("@"):
            yield from _expand(_read_list(item[1:], lists), wanted, (*lists, os.path.realpath(item[1:])))
        elif Path(item).is_dir():
            yield from _scan(Path(item), wanted)
        elif glob.has_magic(item) and (matches := sorted(glob.glob(item, recursive=True))):
            for match in matches:
                yield Path(match), Path(safe_stem(Path(match).name))
        else:
            yield Path(item), Path(safe_stem(Path(item).name))


def _lines(lines) -> list[str]:
    return [line.strip() for line in lines if line.strip()]


def _read_list(name: str, lists: tuple[str, ...]) -> list[str]:
    if os.path.realpath(name) in lists:
        raise SpeechError(f"{shown(name)}: list file names itself (directly or through another list)")
    try:
        return _lines(Path(name).read_text().splitlines())
    except OSError as error:
        raise SpeechError(f"{shown(name)}: cannot read list file ({error.strerror})") from None
    except UnicodeDecodeError:
        raise SpeechError(f"{shown(name)}: list file is not UTF-8 text") from None


def _scan(root: Path, wanted: Callable[[Path], bool]) -> Iterator[tuple[Path, Path]]:
    """A folder's wanted files, sorted, with stems mirroring their subfolders. Entries that are neither files
    nor folders (a FIFO, a socket, a device, a broken link) cannot be read as files: each gets a note."""
    for path in sorted(root.rglob("*")):
        kind = _special_kind(path)
        if kind:
            note(f"note: {shown(path)}: skipped, {kind} and not a file")
        elif wanted(path):
            relative = path.relative_to(root)
            yield path, relative.parent / safe_stem(relative.name)


def _special_kind(path: Path) -> str | None:
    """What ``path`` is when it is neither a regular file nor a folder (following links); None otherwise."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return "a broken link" if path.is_symlink() else None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"
