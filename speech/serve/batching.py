"""A bounded queue in front of the recognizer, so concurrent requests share model batches.

One request at a time would run the model on batches of one: under load the model would spend its time on
per-call overhead and padding-free but tiny batches. Here the first waiting request opens a batch, which takes
every request that arrives within a short window (and all that queued while the previous batch ran), up to a
budget of audio seconds; :meth:`speech.Recognizer.transcribe` then cuts, sorts and batches their pieces as
the batch CLI does. A full queue answers 503 at once rather than letting latency grow without bound.

Batches run off the event loop on ``workers`` model threads, each a worker of its own that gathers a batch
and runs it while the next worker gathers the next. Measured on 2 cores (docs/benchmarks.md): two
single-threaded workers recognise ~1.4x the audio of one worker on two intra-op threads, and keep that when
the event loop's HTTP and decoding work shares the cores, where one two-thread worker (whose every LSTM step
waits for both threads) loses about half its speed. Only one worker gathers at a time, so a batch is whole
before the next starts forming.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from speech.errors import SpeechError
from speech.recognizer import Recognizer
from speech.serve.errors import ApiError
from speech.transcript import Transcript

log = logging.getLogger(__name__)


@dataclass
class _Job:
    samples: np.ndarray
    rate: int
    done: asyncio.Future


class TranscriptionBatcher:
    def __init__(
        self,
        recognizer: Recognizer,
        executor: Executor,
        max_queue: int = 256,
        window_seconds: float = 0.005,
        batch_seconds: float = 300.0,
        workers: int = 1,
    ) -> None:
        """``executor`` runs the batches: it should have ``workers`` threads."""
        self.recognizer = recognizer
        self.executor = executor
        self.workers = workers
        self.window = window_seconds
        self.batch_seconds = batch_seconds
        self.queue: asyncio.Queue[_Job] = asyncio.Queue(max_queue)
        self.batches = 0  # how many model calls, and how many requests they held: for /health
        self.requests = 0
        self._tasks: list[asyncio.Task] = []
        self._gathering = asyncio.Lock()  # one batch forms at a time

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name=f"transcription batcher {number}")
            for number in range(self.workers)
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def transcribe(self, samples: np.ndarray, rate: int) -> Transcript:
        """The transcript of one recording, recognised in a batch with whatever else is waiting."""
        job = _Job(samples, rate, asyncio.get_running_loop().create_future())
        try:
            self.queue.put_nowait(job)
        except asyncio.QueueFull:
            raise ApiError(503, f"server busy: {self.queue.qsize()} requests waiting; retry later") from None
        return await job.done

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            async with self._gathering:
                batch = await self._gather(loop)
            batch = [job for job in batch if not job.done.cancelled()]  # timed out while waiting
            if not batch:
                continue
            self.batches += 1
            self.requests += len(batch)
            try:
                results = await loop.run_in_executor(self.executor, self._recognise, batch)
            except Exception as error:  # a bug in recognition fails its batch, not the server
                log.exception("recognising a batch of %d failed", len(batch))
                results = [error] * len(batch)
            for job, result in zip(batch, results, strict=True):
                if job.done.done():
                    continue
                if isinstance(result, BaseException):
                    job.done.set_exception(result)
                else:
                    job.done.set_result(result)

    async def _gather(self, loop: asyncio.AbstractEventLoop) -> list[_Job]:
        """The next batch: the first waiting job, then others until the window closes or the budget fills."""
        batch = [await self.queue.get()]
        seconds = len(batch[0].samples) / batch[0].rate
        deadline = loop.time() + self.window
        while seconds < self.batch_seconds:
            try:
                if self.queue.empty():
                    job = await asyncio.wait_for(self.queue.get(), max(0.0, deadline - loop.time()))
                else:
                    job = self.queue.get_nowait()
            except (asyncio.TimeoutError, TimeoutError):
                break
            batch.append(job)
            seconds += len(job.samples) / job.rate
        return batch

    def _recognise(self, batch: list[_Job]) -> list[Transcript | SpeechError]:
        sources = [(job.samples, job.rate) for job in batch]
        results = self.recognizer.transcribe(sources, batch_seconds=self.batch_seconds)
        return [result.transcript or SpeechError(result.error) for result in results]
