"""Input lists shared by the batch commands: files, folders (searched recursively), globs, @LIST, -."""

from __future__ import annotations

import glob
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from speech.errors import SpeechError


def expand_inputs(inputs: list[str], wanted: Callable[[Path], bool]) -> Iterator[tuple[Path, Path]]:
    """(input path, output stem relative to the output folder) for each input, folders mirrored; inside a
    folder only the files ``wanted`` accepts."""
    for item in inputs:
        if item == "-":
            yield from expand_inputs([line.strip() for line in sys.stdin if line.strip()], wanted)
        elif item.startswith("@"):
            try:
                lines = Path(item[1:]).read_text().splitlines()
            except OSError as error:
                raise SpeechError(f"{item[1:]}: cannot read list file ({error.strerror})") from None
            yield from expand_inputs([line.strip() for line in lines if line.strip()], wanted)
        elif Path(item).is_dir():
            root = Path(item)
            for path in sorted(root.rglob("*")):
                if wanted(path):
                    yield path, path.relative_to(root).with_suffix("")
        elif glob.has_magic(item):
            for match in sorted(glob.glob(item, recursive=True)):
                yield Path(match), Path(Path(match).stem)
        else:
            yield Path(item), Path(Path(item).stem)
