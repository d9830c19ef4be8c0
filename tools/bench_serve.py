"""Benchmark: `speech serve` under load on loopback, and live transcription latency.

    python tools/bench_serve.py [--requests 200] [--concurrency 1,4,16] [--speech-requests 50] \
        [--stream-clips 5] [--memory-minutes 0] [--json results.json]

Starts `speech serve --port 0` (the shipped models) in a child process and measures, for Markdown rows in
docs/benchmarks.md:

1. Transcription: --requests POSTs of 2-15 s clips (cut, seeded, from Debian's LibriVox read speech, written as
   WAV) at each concurrency, after 20 requests of warm-up: requests/s, audio-seconds/s, p50/p95 latency, failed
   requests, and the mean requests per model batch (from /health); then the same files
   through `speech.Recognizer.transcribe` in this process, as `speech transcribe` batches them (the
   throughput target: the server at concurrency 16 reaches 70% of it), and a 5 s clip at concurrency 1 (p95).
2. Speech: --speech-requests one-sentence requests, one at a time: time to the first audio bytes, total.
3. Live: the LibriVox clips with a second of silence after each, fed in real time (paced 0.1 s writes) to
   `speech transcribe --stream`: for each segment, the time from the end of its speech to its line on stdout,
   and the same less the half-second pause the segmenter waits for (the target: under 0.3 s).
4. With --memory-minutes N: N minutes of stream fed as fast as possible to `speech.stream.LiveTranscriber`
   in this process, its resident memory every simulated ten minutes (the target: flat within 50 MB).

Every process gets OMP_NUM_THREADS from the environment (set it to the cores you mean to use).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
from machine import describe_machine

from speech.audio import read_audio, write_audio
from speech.recognizer import Recognizer
from speech.stream import LEAD_SECONDS, PAUSE_SECONDS, LiveTranscriber

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
RATE = 16000
TEXT = "The birch canoe slid on the smooth planks."


def clips() -> list[np.ndarray]:
    paths = sorted(LIBRIVOX.glob("*.wav"))
    if not paths:
        sys.exit(f"no LibriVox clips in {LIBRIVOX}: install Debian's pocketsphinx-testdata")
    return [read_audio(path, RATE)[0] for path in paths]


def make_requests(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """``count`` WAV files of 2-15 s, cut at random from the LibriVox clips played in a loop."""
    speech = np.concatenate(clips())
    loop = np.concatenate([speech] * 3)
    rng = np.random.default_rng(seed)
    paths = []
    for number in range(count):
        length = int(rng.uniform(2, 15) * RATE)
        start = int(rng.integers(0, len(loop) - length))
        path = folder / f"clip{number:04d}.wav"
        write_audio(path, loop[start : start + length], RATE)
        paths.append(path)
    return paths


def start_server() -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "speech", "serve", "--port", "0"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    for line in process.stderr:
        if match := re.search(r"listening on (http://\S+:\d+)", line):
            threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
            return process, match.group(1)
    sys.exit("speech serve did not start")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


async def load(url: str, files: list[Path], concurrency: int) -> dict:
    """POST every file with at most ``concurrency`` requests in flight."""
    bodies = [(path.name, path.read_bytes()) for path in files]
    seconds = sum(len(body) - 44 for _, body in bodies) / 2 / RATE
    latencies: list[float] = []
    failed = 0
    queue: asyncio.Queue = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal failed
        while not queue.empty():
            name, data = queue.get_nowait()
            started = time.perf_counter()
            try:
                response = await client.post("/v1/audio/transcriptions", files={"file": (name, data)})
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - started)
            failed += not ok

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        before = (await client.get("/health")).json()
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        after = (await client.get("/health")).json()
    batches = after["batches"] - before["batches"]
    return {
        "concurrency": concurrency,
        "requests": len(bodies),
        "requests_per_s": len(bodies) / elapsed,
        "audio_s_per_s": seconds / elapsed,
        "p50_ms": 1000 * percentile(latencies, 50),
        "p95_ms": 1000 * percentile(latencies, 95),
        "failed": failed,
        "mean_batch": (after["requests"] - before["requests"]) / max(batches, 1),
        "workers": after.get("workers"),
    }


def batch_baseline(files: list[Path]) -> dict:
    """The same files through the recognizer as `speech transcribe` runs it (model loaded, files decoded)."""
    recognizer = Recognizer.load()
    list(recognizer.transcribe(files[:2]))  # warm up
    started = time.perf_counter()
    results = list(recognizer.transcribe(files))
    elapsed = time.perf_counter() - started
    return {"audio_s_per_s": sum(r.duration for r in results) / elapsed, "seconds": elapsed}


def speech_requests(url: str, count: int) -> dict:
    first, total, failed = [], [], 0
    with httpx.Client(base_url=url, timeout=300) as client:
        for _ in range(count):
            started = time.perf_counter()
            with client.stream(
                "POST", "/v1/audio/speech", json={"input": TEXT, "voice": "alloy"}
            ) as response:
                chunks = response.iter_bytes()
                next(chunks, b"")
                first.append(time.perf_counter() - started)
                for _ in chunks:
                    pass
                failed += response.status_code != 200
            total.append(time.perf_counter() - started)
    return {
        "requests": count,
        "first_bytes_p50_ms": 1000 * percentile(first, 50),
        "first_bytes_p95_ms": 1000 * percentile(first, 95),
        "total_p50_ms": 1000 * percentile(total, 50),
        "failed": failed,
    }


def live_latency(count: int) -> dict:
    """Feed clips + 1 s gaps in real time to `speech transcribe --stream`; time each line after its speech.

    A printed segment ends ``LEAD_SECONDS`` after its last loud frame, and the segmenter knows it has ended
    ``PAUSE_SECONDS`` after that frame: a line's lag after detection is its lag after its printed end less
    the difference (which includes up to one 0.1 s read of waiting)."""
    pieces, ends, position = [], [], 0
    for clip in clips()[:count]:
        pieces += [clip, np.zeros(RATE, np.float32)]
        position += len(clip)
        ends.append(position / RATE)
        position += RATE
    pcm = (np.clip(np.concatenate(pieces), -1, 1) * 32767).round().astype("<i2").tobytes()
    process = subprocess.Popen(
        [sys.executable, "-m", "speech", "transcribe", "--stream"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(8)  # the model loads before the first bytes are read; the clock starts with the stream
    arrivals: list[tuple[float, float]] = []

    def read() -> None:
        for line in process.stdout:
            if match := re.match(rb"\[ *([\d.]+) --> *([\d.]+)\]", line):
                arrivals.append((float(match.group(2)), time.perf_counter()))

    reader = threading.Thread(target=read)
    reader.start()
    step = RATE // 10 * 2
    started = time.perf_counter()
    for number, offset in enumerate(range(0, len(pcm), step)):
        delay = started + (number + 1) * 0.1 - time.perf_counter()  # 0.1 s of audio exists 0.1 s later
        if delay > 0:
            time.sleep(delay)
        process.stdin.write(pcm[offset : offset + step])
        process.stdin.flush()
    process.stdin.close()
    reader.join()
    process.wait()
    lags = [arrived - started - end for end, arrived in arrivals]  # after the printed end of the segment
    wait = PAUSE_SECONDS - min(LEAD_SECONDS, PAUSE_SECONDS)
    return {
        "segments": len(arrivals),
        "expected": len(ends),
        "after_speech_p50_ms": 1000 * percentile(lags, 50),
        "after_speech_max_ms": 1000 * max(lags, default=float("nan")),
        "after_detection_max_ms": 1000 * (max(lags, default=float("nan")) - wait),
    }


def memory(minutes: float) -> dict:
    """RSS while ``minutes`` of stream (clips and gaps, looped) pass through LiveTranscriber."""
    stream = np.concatenate([part for clip in clips() for part in (clip, np.zeros(RATE, np.float32))])
    live = LiveTranscriber(Recognizer.load(), RATE, partial_seconds=0.5)
    process = psutil.Process()
    fed, marks, step = 0, [], RATE // 10
    next_mark = 0
    while fed < minutes * 60 * RATE:
        for offset in range(0, len(stream), step):
            live.feed(stream[offset : offset + step])
        fed += len(stream)
        if fed >= next_mark:
            marks.append((fed / RATE / 60, process.memory_info().rss / 1e6))
            next_mark += 10 * 60 * RATE
    return {"minutes": fed / RATE / 60, "rss_mb": marks, "growth_mb": marks[-1][1] - marks[0][1]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--speech-requests", type=int, default=50)
    parser.add_argument(
        "--stream-clips", type=int, default=5, help="LibriVox clips in the live stream (0: skip)"
    )
    parser.add_argument("--memory-minutes", type=float, default=0.0)
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    args = parser.parse_args()
    results: dict = {"machine": describe_machine()}
    print(results["machine"])
    with tempfile.TemporaryDirectory() as folder:
        files = make_requests(Path(folder), args.requests)
        five = Path(folder) / "five.wav"
        write_audio(five, np.concatenate(clips())[: 5 * RATE], RATE)
        process, url = start_server()
        try:
            asyncio.run(load(url, files[:20], 4))  # warm-up: the first batches allocate the model's buffers
            results["transcription"] = []
            print(
                "| concurrency | requests | req/s | audio s/s | p50 ms | p95 ms | failed | requests per batch |"
            )
            print("|---|---|---|---|---|---|---|---|")
            for concurrency in map(int, args.concurrency.split(",")):
                row = asyncio.run(load(url, files, concurrency))
                results["transcription"].append(row)
                print(
                    f"| {concurrency} | {row['requests']} | {row['requests_per_s']:.1f} | {row['audio_s_per_s']:.0f} "
                    f"| {row['p50_ms']:.0f} | {row['p95_ms']:.0f} | {row['failed']} | {row['mean_batch']:.1f} |"
                )
            print(f"recognizer workers: {results['transcription'][0]['workers']}")
            five_s = asyncio.run(load(url, [five] * 50, 1))
            results["five_second_clip"] = five_s
            print(f"5 s clip, concurrency 1: p50 {five_s['p50_ms']:.0f} ms, p95 {five_s['p95_ms']:.0f} ms")
            if args.speech_requests:
                speech = speech_requests(url, args.speech_requests)
                results["speech"] = speech
                print(
                    f"speech, one sentence: first bytes p50 {speech['first_bytes_p50_ms']:.0f} ms, "
                    f"p95 {speech['first_bytes_p95_ms']:.0f} ms, whole {speech['total_p50_ms']:.0f} ms, "
                    f"failed {speech['failed']}"
                )
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=120)
        baseline = batch_baseline(files)
        results["batch_baseline"] = baseline
        best = max((row for row in results["transcription"]), key=lambda row: row["concurrency"])
        print(
            f"in-process batch (as speech transcribe): {baseline['audio_s_per_s']:.0f} audio s/s; the server at "
            f"concurrency {best['concurrency']}: {100 * best['audio_s_per_s'] / baseline['audio_s_per_s']:.0f}%"
        )
    if args.stream_clips:
        live = live_latency(args.stream_clips)
        results["live"] = live
        print(
            f"live, real time: {live['segments']}/{live['expected']} segments; after the speech ends p50 "
            f"{live['after_speech_p50_ms']:.0f} ms, max {live['after_speech_max_ms']:.0f} ms; after the "
            f"pause is detected, max {live['after_detection_max_ms']:.0f} ms"
        )
    if args.memory_minutes:
        held = memory(args.memory_minutes)
        results["memory"] = held
        print(
            f"memory over {held['minutes']:.0f} min of stream: {held['rss_mb']} (growth {held['growth_mb']:.0f} MB)"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))
    main()
