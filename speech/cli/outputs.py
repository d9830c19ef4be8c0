"""Where a batch job's outputs go: a folder given with ``-o``, and one name in it per input.

An input's output name is its file name without the suffix, mirrored under the output folder for folder
scans. Two rules keep a job from writing anywhere else or over its own work:

- a name always resolves inside the output folder: a file whose stem is only dots (``..wav`` has the stem
  ``.``, which would name the output folder itself, or its parent) gets its leading dots turned into
  underscores (``__wav``);
- a name is used once per job: a later input whose name is taken (``x/same.wav`` after ``y/same.wav``,
  ``talk.flac`` after ``talk.wav``; compared without case, for case-insensitive file systems) gets the first
  free ``NAME-2``, ``NAME-3``, ... and a note says so. Inputs come in a fixed order (sorted within folders
  and globs), so a rerun of the same job gives the same names and skips what is done.
"""

from __future__ import annotations

import os
from pathlib import Path

from speech.cli.report import note
from speech.errors import SpeechError, shown


def output_folder(out: str | os.PathLike) -> Path:
    """``-o`` as a folder, checked before any work: an existing file there is a one-line error, not a
    traceback halfway through the job."""
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise SpeechError(f"{shown(folder)}: -o must be a folder, and this is an existing file")
    return folder


def safe_stem(name: str) -> str:
    """A file name's output stem, never empty, ``.`` or ``..`` (see the module docstring)."""
    stem = Path(name).stem if name.strip(".") else ""
    if stem.strip("."):
        return stem
    bare = name.lstrip(".")
    return "_" * (len(name) - len(bare)) + bare


class OutputNames:
    """Hands out one output stem per input, each distinct within the job (see the module docstring)."""

    def __init__(self) -> None:
        self.owners: dict[str, Path] = {}  # casefolded stem -> the input it was given to

    def claim(self, source: Path, stem: Path) -> Path:
        """``stem`` (relative to the output folder) for ``source``, or the first free ``stem-N``."""
        name, number = stem, 1
        while str(name).casefold() in self.owners:
            number += 1
            name = stem.with_name(f"{stem.name}-{number}")
        if number > 1:
            owner = self.owners[str(stem).casefold()]
            note(
                f"note: {shown(source)}: written as '{shown(name)}' "
                f"('{shown(stem)}' is {shown(owner)}'s in this job)"
            )
        self.owners[str(name).casefold()] = source
        return name
