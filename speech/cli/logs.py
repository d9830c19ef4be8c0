"""Where the ``speech`` command's log lines go, and from which processes.

Under ``torchrun`` every rank runs the same code, so each ``log.info`` would print once per process: only rank
0 (``RANK`` in the environment) logs by default, and the other ranks only errors, prefixed with their rank.
``speech train --log-all-ranks`` lets every rank log, each line prefixed. Lines go through ``tqdm.write``, so
they never break a progress bar, and a run folder can get a copy with timestamps (:func:`log_to_file`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from speech.audio import OutputError
from speech.errors import shown

CONSOLE_FORMAT = "%(message)s"
VERBOSE_FORMAT = "%(levelname)s %(name)s: %(message)s"
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def process_rank() -> tuple[int, int]:
    """(rank, world size) as torchrun sets them; (0, 1) when run alone."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


class RankFilter(logging.Filter):
    """Passes rank 0's records (every rank's with ``all_ranks``) and other ranks' errors; when several
    processes log, their lines say which rank wrote them."""

    def __init__(self, rank: int, world_size: int, all_ranks: bool) -> None:
        super().__init__()
        self.rank, self.all_ranks = rank, all_ranks
        self.prefix = f"[rank {rank}] " if world_size > 1 and (all_ranks or rank != 0) else ""

    def filter(self, record: logging.LogRecord) -> bool:
        if self.rank != 0 and not self.all_ranks and record.levelno < logging.ERROR:
            return False
        record.rank_prefix = self.prefix
        return True


class TqdmHandler(logging.Handler):
    """Writes each line with ``tqdm.write``, above any progress bar rather than through it."""

    def __init__(self, stream=None) -> None:
        super().__init__()
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=self.stream or sys.stderr)
        except Exception:  # a logging failure must not end the run: logging's own convention
            self.handleError(record)


def _formatter(fmt: str) -> logging.Formatter:
    return logging.Formatter(fmt.replace("%(message)s", "%(rank_prefix)s%(message)s"))


def configure_logging(verbose: bool = False, all_ranks: bool = False, stream=None) -> logging.Handler:
    """Send the toolkit's log lines to standard error (or ``stream``), from this process's rank as above;
    returns the handler. Does nothing to a root logger that already has handlers (an embedding program's,
    pytest's), as :func:`logging.basicConfig` does not."""
    handler = TqdmHandler(stream)
    handler.addFilter(RankFilter(*process_rank(), all_ranks))
    handler.setFormatter(_formatter(VERBOSE_FORMAT if verbose else CONSOLE_FORMAT))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
    return handler


class RunLogHandler(logging.FileHandler):
    """Appends to a file opened at the first line, its folder made then: a run that stops on bad input before
    logging anything (a missing shard folder) leaves no run folder behind."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8", delay=True)

    def _open(self):
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


def _check_writable(path: Path) -> None:
    """Fail at once, in one line, where the log could never be written: a file where a folder should be, or a
    folder where the file should be."""
    if path.is_dir():
        raise OutputError(shown(path), IsADirectoryError(21, "a folder is in the way"))
    for folder in path.parents:
        if folder.exists():
            if not folder.is_dir():
                raise OutputError(shown(path), NotADirectoryError(20, f"{shown(folder)} is a file"))
            return


@contextlib.contextmanager
def log_to_file(path: str | os.PathLike, all_ranks: bool = False) -> Iterator[None]:
    """While the block runs, also append the log lines this process may write (see :class:`RankFilter`)
    to ``path``, with timestamps: the run's own record, beside its checkpoints and metrics."""
    path = Path(path)
    _check_writable(path)
    handler = RunLogHandler(path)
    handler.setLevel(logging.INFO)
    handler.addFilter(RankFilter(*process_rank(), all_ranks))
    handler.setFormatter(_formatter(FILE_FORMAT))
    root = logging.getLogger()
    level = root.level
    if level > logging.INFO:
        root.setLevel(logging.INFO)  # the file gets the run's INFO lines whatever the console shows
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()
