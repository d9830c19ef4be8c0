"""Batch commands and training across processes: ``--nproc K`` on one machine, or ``torchrun`` on many.

Every rank runs the whole command and lists the whole job the same way (inputs come in a fixed order); the
ranks then agree on what is left and split it, so no rank ever needs a message from another to know its
share. What is shared over the process group:

- a **survey** of the job list (is each item done, how long is it): each rank measures every world-size-th
  item and the table is summed, so every rank holds the same numbers (the same split, even where a network
  file system shows ranks slightly different views) and reading a million headers costs each rank 1/N of
  it. The summing is also a barrier: no rank writes before every rank has looked, so what one rank finishes
  cannot change another's view of what is left;
- the **split**: longest first, each to the rank with the least audio so far (ties: fewer items, then the
  lower rank), each rank's share then taken in input order. It depends only on the surveyed table and the
  world size, so a resumed job splits what is left afresh, whatever the new world size;
- the **summary**: counts and failures gathered to rank 0, which prints the job's one summary line and
  writes its failures.txt.

The process group is gloo over TCP even on GPU machines: it carries a few numbers and lines of text per
job, never tensors of the models, so NCCL would buy nothing. Each rank's model runs on the GPU its
``LOCAL_RANK`` names when the command asks for ``--device cuda`` (or ``auto``).
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import io
import logging
import os
import signal
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

from speech.errors import SpeechError

if TYPE_CHECKING:
    from speech.cli.report import BatchReport

T = TypeVar("T")

# A rank that finishes its share waits in the summary's collective for the slowest one; gloo's default 30
# minutes would end a long, uneven job there. A rank that dies ends the job anyway: torchrun stops the rest.
COLLECTIVE_TIMEOUT = timedelta(days=7)


@dataclass(frozen=True)
class Ranks:
    """This process's place in the job, as torchrun describes it in the environment; (0 of 1) alone."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def hide_bar(self) -> bool | None:
        """tqdm's ``disable`` for this rank: one progress bar (rank 0's share), not one per process."""
        return None if self.is_main else True

    @classmethod
    def from_environment(cls) -> Ranks:
        def number(name: str, default: int) -> int:
            return int(os.environ.get(name, default))

        return cls(
            number("RANK", 0),
            number("WORLD_SIZE", 1),
            number("LOCAL_RANK", 0),
            number("LOCAL_WORLD_SIZE", 1),
        )


def add_nproc_option(parser: argparse.ArgumentParser) -> None:
    """``--nproc K``: the one-machine shortcut for ``torchrun --standalone --nproc-per-node K``."""
    parser.add_argument(
        "--nproc",
        type=int,
        default=1,
        help="launch this many processes on this machine with torchrun (default: 1, no launcher)",
    )


def under_launcher() -> bool:
    """Whether torchrun started this process (it sets LOCAL_RANK): then --nproc has been acted on."""
    return "LOCAL_RANK" in os.environ


def launch(nproc: int, speech_args: Sequence[str]) -> int:
    """Run ``speech *speech_args`` as ``nproc`` processes on this machine, as ``torchrun --standalone
    --nproc-per-node nproc -m speech ...`` would; the exit status of the job (the highest of its processes').

    torchrun's launcher runs in this process rather than as a command of its own, so that a job whose
    status is 1 (a file failed, reported in one line) ends with that status and not with the launcher's
    ChildFailedError traceback. Each process gets an equal share of the cores (OMP_NUM_THREADS), unless the
    environment sets it."""
    if nproc < 1:
        raise SpeechError(f"--nproc must be at least 1, got {nproc}")
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import elastic_launch
    from torch.distributed.run import config_from_args, get_args_parser

    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    options = get_args_parser().parse_args(["--nproc-per-node", str(nproc), "-m", "speech"])
    options.training_script_args = list(speech_args)  # not parsed: torchrun would take --nproc as its own
    # torchrun --standalone: a rendezvous on a free local port, a fresh job id
    options.rdzv_backend, options.rdzv_endpoint, options.rdzv_id = "c10d", "localhost:0", str(uuid.uuid4())
    config, entrypoint, arguments = config_from_args(options)
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)  # the ranks speak for the job
    try:
        elastic_launch(config, entrypoint)(*arguments)
    except ChildFailedError as error:
        codes = [failure.exitcode for failure in error.failures.values()]
        # Once one process fails, torchrun stops the others with SIGTERM: one still closing its process group
        # then ends with -15, which must not turn the job's own status (1: a file failed) into 143.
        codes = [code for code in codes if code != -signal.SIGTERM] or codes
        return max(code if code >= 0 else 128 - code for code in codes)  # -9 (SIGKILL) -> 137, as a shell
    except SignalException as stopped:  # Ctrl-C or a TERM to the launcher: it has stopped the processes
        return 128 + int(stopped.sigval)
    return 0


@contextlib.contextmanager
def process_group() -> Iterator[Ranks]:
    """Join the job's process group for the block (nothing to join when alone), and leave it after."""
    ranks = Ranks.from_environment()
    if not ranks.enabled:
        yield ranks
        return
    import torch.distributed as dist

    dist.init_process_group("gloo", timeout=COLLECTIVE_TIMEOUT)
    try:
        yield ranks
    finally:
        dist.destroy_process_group()


def rank_device(request: str, ranks: Ranks) -> str:
    """The ``--device`` a rank runs on: ``cuda`` (or ``auto`` on a GPU machine) becomes the GPU of this
    rank's LOCAL_RANK, so the ranks of a node share out its GPUs (round robin where there are more ranks
    than GPUs: the models are small enough to share one); a request the machine cannot serve is the usual
    one-line error."""
    if request == "cpu":  # nothing to check; importing torch for it costs onnxruntime runs a second
        return request  # (tests/test_export.py::test_transcription_never_imports_torch)
    from speech.device import resolve_device

    gpu = ranks.local_rank
    if request in ("cuda", "auto"):
        import torch

        gpu %= max(1, torch.cuda.device_count())
    device = resolve_device(request, "--device", gpu)
    if device.type == "cuda":
        import torch

        torch.cuda.set_device(device)
    return str(device)


def cpu_threads(ranks: Ranks) -> int:
    """This rank's share of the machine's cores: the ranks of one node must not each take them all."""
    return max(1, (os.cpu_count() or 1) // ranks.local_world_size)


def refuse_standard_input(inputs: Sequence[str], processes: int) -> None:
    """Standard input is one stream and cannot be shared out: several processes need the paths in a file.
    Checked before --nproc launches anything, and again in each rank that torchrun started."""
    if processes != 1 and "-" in inputs:
        raise SpeechError(
            "- (standard input) cannot be shared between processes; give the paths in a file as @LIST"
        )


@contextlib.contextmanager
def main_rank_notes(ranks: Ranks) -> Iterator[None]:
    """While every rank lists the same job, only rank 0's notes about it (a skipped FIFO, a renamed
    output) reach standard error: the others would repeat them word for word."""
    if ranks.is_main:
        yield
    else:
        with contextlib.redirect_stderr(io.StringIO()):
            yield


def share_work(
    jobs: Sequence[T], done: Callable[[T], bool], length: Callable[[T], float], ranks: Ranks
) -> tuple[list[T], list[T]]:
    """(this rank's share of the jobs not yet done, the done jobs its report counts as skipped: all of them
    on rank 0, none on the others, so that the merged report counts each once). ``length`` is a job's
    size, cheaply (a header's seconds): it is only asked for when there are ranks to balance."""

    _check_same_job(jobs, ranks)

    def measure(index: int) -> tuple[float, float]:
        if done(jobs[index]):
            return 1.0, 0.0
        return 0.0, length(jobs[index]) if ranks.enabled else 0.0

    table = survey(len(jobs), 2, measure, ranks)
    left = [index for index, (finished, _) in enumerate(table) if not finished]
    mine = balanced_share([jobs[i] for i in left], [table[i][1] for i in left], ranks)
    finished = [job for job, (flag, _) in zip(jobs, table, strict=True) if flag] if ranks.is_main else []
    return mine, finished


def _check_same_job(jobs: Sequence[object], ranks: Ranks) -> None:
    """Every rank must have listed the same job (count and a checksum of the items, outputs named): a
    machine that sees other inputs, or none, is a one-line error on every rank rather than a collective
    that never matches up."""
    if not ranks.enabled:
        return
    checksum = 0
    for job in jobs:
        checksum = zlib.crc32(repr(job).encode(), checksum)
    count, total, lowest, least = _max_over_ranks([len(jobs), checksum, -len(jobs), -checksum])
    if (count, total) != (-lowest, -least):
        raise SpeechError(
            f"the processes listed different jobs (this one {len(jobs)} items, others up to {int(count)}): "
            "every machine must see the same inputs at the same paths (a shared file system)"
        )


def header_seconds(path: str | os.PathLike) -> float:
    """An audio file's length as its header says, to balance ranks by; one whose header cannot say (it will
    fail when read, and its rank reports it) counts as 16 kHz 16-bit audio of its size."""
    from speech.audio import audio_info

    try:
        return audio_info(path).duration
    except SpeechError:
        try:
            return os.path.getsize(path) / 32000
        except OSError:
            return 0.0


def survey(
    count: int, columns: int, measure: Callable[[int], Sequence[float]], ranks: Ranks
) -> list[tuple[float, ...]]:
    """``measure(i)`` (``columns`` numbers) for every item of a job of ``count``, the same table on every
    rank (see the module docstring): each rank measures the items i with i % world_size == rank, and the
    table is summed."""
    if not ranks.enabled:
        return [tuple(measure(index)) for index in range(count)]
    import torch
    import torch.distributed as dist

    table = torch.zeros((count, columns), dtype=torch.float64)
    for index in range(ranks.rank, count, ranks.world_size):
        table[index] = torch.tensor(measure(index), dtype=torch.float64)
    dist.all_reduce(table)
    return [tuple(row) for row in table.tolist()]


def balanced_share(items: Sequence[T], weights: Sequence[float], ranks: Ranks) -> list[T]:
    """This rank's items: longest first to the rank with the least weight so far (ties: fewer items, then
    the lower rank), kept in input order. The same inputs and world size give every rank the same split."""
    if not ranks.enabled:
        return list(items)
    loads = [(0.0, 0, rank) for rank in range(ranks.world_size)]
    mine = []
    for index in sorted(range(len(items)), key=lambda i: (-weights[i], i)):
        load, taken, rank = heapq.heappop(loads)
        if rank == ranks.rank:
            mine.append(index)
        heapq.heappush(loads, (load + weights[index], taken + 1, rank))
    return [items[index] for index in sorted(mine)]


def merge_reports(report: BatchReport, ranks: Ranks) -> bool:
    """Once every rank has done its share: rank 0's report becomes the whole job's (counts summed,
    failures gathered in rank order) and True is returned there, for it to finish; False on other ranks,
    which print nothing. The collective is also the job's end: every output is written when it returns."""
    if not ranks.enabled:
        return True
    done, seconds, skipped = _sum_over_ranks([report.done, report.audio_seconds, report.skipped])
    failures = _gather_lines(report.failures, ranks)
    if not ranks.is_main:
        return False
    report.done, report.audio_seconds, report.skipped = int(done), seconds, int(skipped)
    report.failures = failures
    report.verb = f"{report.verb} by {ranks.world_size} processes"
    return True


def _sum_over_ranks(values: Sequence[float]) -> list[float]:
    return _reduce(values, "SUM")


def _max_over_ranks(values: Sequence[float]) -> list[float]:
    return _reduce(values, "MAX")


def _reduce(values: Sequence[float], operation: str) -> list[float]:
    import torch
    import torch.distributed as dist

    tensor = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(tensor, op=getattr(dist.ReduceOp, operation))
    return tensor.tolist()


def _gather_lines(lines: list[str], ranks: Ranks) -> list[str]:
    """Every rank's lines, in rank order (as UTF-8 bytes in padded tensors: no pickles, even in transit)."""
    import torch
    import torch.distributed as dist

    data = "\n".join(lines).encode()
    sizes = [torch.zeros(1, dtype=torch.int64) for _ in range(ranks.world_size)]
    dist.all_gather(sizes, torch.tensor([len(data)], dtype=torch.int64))
    width = max(1, max(int(size) for size in sizes))
    padded = torch.zeros(width, dtype=torch.uint8)
    if data:
        padded[: len(data)] = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    gathered = [torch.zeros(width, dtype=torch.uint8) for _ in range(ranks.world_size)]
    dist.all_gather(gathered, padded)
    merged = []
    for size, tensor in zip(sizes, gathered, strict=True):
        if int(size):
            merged.extend(tensor[: int(size)].numpy().tobytes().decode().split("\n"))
    return merged
