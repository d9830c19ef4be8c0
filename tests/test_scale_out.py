"""Batch jobs across processes (speech/cli/ranks.py): real ``speech`` jobs under torchrun's launcher, gloo on
loopback, on real recordings (Debian's librivox clips) and real text.

The outputs of 2 or 3 processes, of two torchrun "nodes" meeting at a c10d rendezvous on 127.0.0.1, and of
a 2-process job whose rank 1 is SIGKILLed and which is then run again, are byte for byte those of one
process. Each process runs PyTorch on one thread: this machine's two cores are shared with other work, where
two threads a process only contend (docs engineering notes)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import soundfile as sf
import torch.distributed

from speech.cli.ranks import Ranks, balanced_share

from .test_kill_resume import same_files

needs_torchrun = pytest.mark.skipif(
    not (torch.distributed.is_available() and importlib.util.find_spec("torch.distributed.run")),
    reason="torchrun (torch.distributed) is not available in this PyTorch build",
)
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}
TRANSCRIBE = ["transcribe", "--format", "txt,json", "--batch-seconds", "2"]  # a few files a batch


def speech(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "speech", *args], env=ONE_THREAD, capture_output=True, text=True, check=check
    )


def torchrun(*args: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", *args]


@pytest.fixture(scope="module")
def transcribed_alone(recordings: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: the recordings transcribed by one process."""
    out = tmp_path_factory.mktemp("alone")
    result = speech(*TRANSCRIBE, str(recordings), "-o", str(out))
    assert "15 transcribed (" in result.stdout
    return out


def summary(text: str) -> list[str]:
    return [line for line in text.splitlines() if " already done, " in line]


@needs_torchrun
def test_two_processes_transcribe_as_one_and_a_resume_splits_what_is_left(
    recordings: Path, transcribed_alone: Path, tmp_path: Path
) -> None:
    result = speech(*TRANSCRIBE, str(recordings), "-o", str(tmp_path), "--nproc", "2")
    assert summary(result.stdout) == [line for line in summary(result.stdout) if "by 2 processes" in line]
    assert len(summary(result.stdout)) == 1 and "15 transcribed by 2 processes" in result.stdout
    assert "0 already done, 0 failed" in result.stdout
    same_files(tmp_path, transcribed_alone)

    # a different world size resumes the job: only what is missing is done, and it comes out the same
    lost = sorted(tmp_path.glob("*.json"))[::4]
    for path in lost:
        path.unlink()
    result = speech(*TRANSCRIBE, str(recordings), "-o", str(tmp_path), "--nproc", "3")
    assert f"{len(lost)} transcribed by 3 processes" in result.stdout
    assert f"{15 - len(lost)} already done, 0 failed" in result.stdout
    same_files(tmp_path, transcribed_alone)


@needs_torchrun
def test_two_torchrun_nodes_on_loopback_transcribe_as_one(
    recordings: Path, transcribed_alone: Path, tmp_path: Path
) -> None:
    with socket.socket() as probe:  # a free port for the c10d rendezvous
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    job = str(uuid.uuid4())
    nodes = [
        subprocess.Popen(
            torchrun(
                "--nnodes=2",
                "--nproc-per-node=1",
                "--rdzv-backend=c10d",
                f"--rdzv-endpoint=127.0.0.1:{port}",
                f"--rdzv-id={job}",
                f"--rdzv-conf=is_host={host}",
                "-m",
                "speech",
                *TRANSCRIBE,
                str(recordings),
                "-o",
                str(tmp_path),
            ),
            env=ONE_THREAD,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for host in ("true", "false")
    ]
    outputs = [node.communicate(timeout=240) for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], [err[-2000:] for _, err in outputs]
    lines = [line for stdout, _ in outputs for line in summary(stdout)]
    assert len(lines) == 1 and lines[0].startswith("15 transcribed by 2 processes"), lines
    same_files(tmp_path, transcribed_alone)


def workers(launcher: int) -> dict[int, int]:
    """rank -> pid of the processes torchrun's launcher (pid ``launcher``) started, read from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            if (
                entry.name.isdigit()
                and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == launcher
            ):
                variables = (entry / "environ").read_bytes().split(b"\0")
                rank = next(v for v in variables if v.startswith(b"RANK="))
                found[int(rank[5:])] = int(entry.name)
        except (OSError, StopIteration, IndexError, ValueError):  # gone meanwhile, or not a worker
            continue
    return found


@needs_torchrun
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the ranks' processes in /proc")
def test_a_rank_killed_midway_loses_nothing(
    recordings: Path, transcribed_alone: Path, tmp_path: Path
) -> None:
    launcher = subprocess.Popen(
        [sys.executable, "-m", "speech", *TRANSCRIBE, str(recordings), "-o", str(tmp_path), "--nproc", "2"],
        env=ONE_THREAD,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while launcher.poll() is None and time.monotonic() < deadline and not list(tmp_path.glob("*.json")):
        time.sleep(0.02)  # until the first transcript is written: the job is midway
    ranks = workers(launcher.pid)
    assert launcher.poll() is None and sorted(ranks) == [0, 1], "the job ended before it could be killed"
    os.kill(ranks[1], signal.SIGKILL)
    assert launcher.wait(timeout=120) != 0  # the launcher stops the other rank and reports the failure
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len([p for p in written if p.suffix == ".json"]) < 15, "killed too late to test anything"
    for path in written:
        if path.name.startswith("."):  # a killed write's temporary: never under an output's name
            assert path.name.endswith(".tmp")
            path.unlink()
        elif path.suffix == ".json":
            json.loads(path.read_text())  # whole
    result = speech(*TRANSCRIBE, str(recordings), "-o", str(tmp_path), "--nproc", "2")
    assert "0 failed" in result.stdout
    same_files(tmp_path, transcribed_alone)


@needs_torchrun
def test_synthesize_lines_and_vocode_two_processes_as_one(recordings: Path, tmp_path: Path) -> None:
    text = tmp_path / "lines.txt"  # two groups of lines: 16, then 4
    text.write_text("".join(f"Line number {n} of the test, said once.\n" for n in range(1, 21)))
    synthesize = ["synthesize", str(text), "--lines", "--vocoder", "griffin-lim"]
    speech(*synthesize, "-o", str(tmp_path / "alone"))
    result = speech(*synthesize, "-o", str(tmp_path / "ranks"), "--nproc", "2")
    assert "20 synthesized by 2 processes" in result.stdout
    same_files(tmp_path / "ranks", tmp_path / "alone")
    assert len((tmp_path / "ranks" / "lines.jsonl").read_text().splitlines()) == 20  # rank 0's manifest

    clips = sorted(recordings.glob("*.wav"))[:4]
    vocode = ["vocode", *map(str, clips), "--model", "griffin-lim"]
    speech(*vocode, "-o", str(tmp_path / "vocoded-alone"))
    result = speech(*vocode, "-o", str(tmp_path / "vocoded-ranks"), "--nproc", "2")
    assert "4 vocoded by 2 processes" in result.stdout
    same_files(tmp_path / "vocoded-ranks", tmp_path / "vocoded-alone")
    assert all(sf.info(str(path)).frames for path in (tmp_path / "vocoded-ranks").glob("*.wav"))


@needs_torchrun
def test_a_failure_on_any_rank_is_in_the_one_summary_and_the_status(
    librivox_dir: Path, tmp_path: Path
) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for clip in sorted(librivox_dir.glob("*.wav"))[:2]:
        shutil.copy(clip, inputs / clip.name)
    (inputs / "broken.wav").write_bytes(b"not audio at all")
    result = speech(*TRANSCRIBE, str(inputs), "-o", str(tmp_path / "out"), "--nproc", "2", check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "ChildFailedError" not in result.stderr
    assert result.stderr.count("broken.wav: not a recognised audio format") == 1
    assert "2 transcribed by 2 processes" in result.stdout and "1 failed" in result.stdout
    assert (tmp_path / "out" / "failures.txt").read_text().count("broken.wav") == 1


@needs_torchrun
def test_standard_input_and_a_bad_nproc_are_one_line_errors(tmp_path: Path) -> None:
    result = speech("transcribe", "x.wav", "--nproc", "0", check=False)
    assert result.returncode == 1 and result.stderr == "error: --nproc must be at least 1, got 0\n"
    result = speech("vocode", "-", "-o", str(tmp_path), "--model", "griffin-lim", "--nproc", "2", check=False)
    assert result.returncode == 1
    assert "- (standard input) cannot be shared between processes" in result.stderr
    assert "Traceback" not in result.stderr


LISTS_A_JOB = """
import os, sys
from speech.cli.ranks import process_group, share_work
from speech.errors import SpeechError
with process_group() as ranks:
    jobs = [f"item-{index}" for index in range(int(sys.argv[1]))]
    try:
        print(share_work(jobs, lambda job: False, lambda job: 1.0, ranks)[0])
    except SpeechError as error:
        print(f"error: {error}")
"""


@needs_torchrun
def test_processes_that_list_different_jobs_stop_with_one_line_each() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    group = {**ONE_THREAD, "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    ranks = [
        subprocess.Popen(
            [sys.executable, "-c", LISTS_A_JOB, count],
            env={**group, "RANK": str(rank), "LOCAL_RANK": str(rank), "LOCAL_WORLD_SIZE": "2"},
            stdout=subprocess.PIPE,
            text=True,
        )
        for rank, count in enumerate(["5", "4"])  # rank 1 sees one input fewer
    ]
    outputs = [rank.communicate(timeout=60)[0] for rank in ranks]
    assert outputs == [
        "error: the processes listed different jobs (this one 5 items, others up to 5): every machine must "
        "see the same inputs at the same paths (a shared file system)\n",
        "error: the processes listed different jobs (this one 4 items, others up to 5): every machine must "
        "see the same inputs at the same paths (a shared file system)\n",
    ]


@pytest.mark.parametrize("world_size", [1, 2, 3, 7])
def test_the_split_is_whole_balanced_and_the_same_on_every_rank(world_size: int) -> None:
    weights = [((index * 7919) % 97) / 10 + 0.5 for index in range(200)]
    items = list(range(200))
    shares = [balanced_share(items, weights, Ranks(rank, world_size)) for rank in range(world_size)]
    assert sorted(item for share in shares for item in share) == items  # each item once
    assert all(share == sorted(share) for share in shares)  # each share in input order
    assert shares == [balanced_share(items, weights, Ranks(r, world_size)) for r in range(world_size)]
    loads = [sum(weights[item] for item in share) for share in shares]
    assert max(loads) - min(loads) <= max(weights)  # longest first to the least loaded
    zero = [balanced_share(items, [0.0] * 200, Ranks(rank, world_size)) for rank in range(world_size)]
    assert max(map(len, zero)) - min(map(len, zero)) <= 1  # lengths unknown: split by count
