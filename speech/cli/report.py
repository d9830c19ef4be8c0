"""The bookkeeping every batch command shares (transcribe, synthesize, vocode), so they all behave alike:
a failure is reported in one line as it happens and the run goes on; the run ends with one summary line,
the failures collected in ``OUT/failures.txt`` (written atomically), and exit status 1 if anything failed."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tqdm import tqdm

from speech.audio import atomic_output
from speech.errors import shown


def note(message: str) -> None:
    """A line on stderr that does not break the progress bar (one line: see :func:`speech.errors.shown`)."""
    tqdm.write(shown(message), file=sys.stderr)


def audio_length(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 600 else f"{seconds / 3600:.3f} h"


class BatchReport:
    """``out`` None: the outputs go to standard output, so the summary goes to stderr and there is no
    failures.txt (the failures were reported as they happened)."""

    def __init__(self, out: Path | None, verb: str, skipped: int = 0):
        self.out, self.verb, self.skipped = out, verb, skipped
        self.done, self.audio_seconds, self.failures = 0, 0.0, []
        self.start = time.perf_counter()

    def succeeded(self, audio_seconds: float) -> None:
        self.done += 1
        self.audio_seconds += audio_seconds

    def failed(self, message: str) -> None:
        """Report one failure; a newline in it (a file's name) is escaped, so failures.txt stays a line each."""
        self.failures.append(shown(message))
        note(f"error: {message}")

    def finish(self) -> int:
        """Print the summary line, write failures.txt if anything failed; the command's exit status."""
        elapsed = time.perf_counter() - self.start
        speed = f", {self.audio_seconds / elapsed:.1f}x real time" if self.audio_seconds and elapsed else ""
        print(
            f"{self.done} {self.verb} ({audio_length(self.audio_seconds)} of audio in {elapsed:.1f} s{speed}), "
            f"{self.skipped} already done, {len(self.failures)} failed",
            file=sys.stdout if self.out else sys.stderr,
        )
        if self.failures and self.out:
            with atomic_output(self.out / "failures.txt", "w") as stream:
                stream.write("\n".join(self.failures) + "\n")
        return 1 if self.failures else 0
