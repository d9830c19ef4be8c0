"""SIGKILL in the middle of a batch command, several times at random moments, then a rerun: every output on
disk is whole at every moment, and the finished job's outputs are those of a run never interrupted.

Transcription, synthesis (--lines), vocoding and sharding, each a real `speech` process on real audio or
text; training has its own kill test (tests/train/test_trainer.py)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import soundfile as sf

from speech.data.importers import import_sphinx
from speech.data.manifest import write_manifest

KILLS = 2


def speech_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "speech", *args]


def kill_midway(command: list[str], out: Path, seed: int, check: Callable[[Path], None]) -> None:
    """Start ``command``, SIGKILL it once outputs begin to appear (at a random moment), check what is on
    disk, and do it again; the caller's rerun finishes the job."""
    rng = random.Random(seed)
    for _ in range(KILLS):
        before = {p for p in out.rglob("*") if p.is_file()} if out.exists() else set()
        job = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while job.poll() is None and time.monotonic() < deadline:  # wait for the first new output
            if out.exists() and {p for p in out.rglob("*") if p.is_file()} - before:
                break
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.6))
        job.kill()
        job.wait()
        for path in out.rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                check(path)
        for leftover in out.rglob(".*.tmp"):  # a killed write's temporary: never taken for an output
            leftover.unlink()


def whole_audio(path: Path) -> None:
    if path.suffix == ".wav":
        info = sf.info(str(path))
        assert info.frames > 0 and len(sf.read(str(path))[0]) == info.frames


def whole_text(path: Path) -> None:
    if path.suffix == ".json":
        json.loads(path.read_text())
    elif path.suffix == ".jsonl":
        [json.loads(line) for line in path.read_text().splitlines()]


def same_files(a: Path, b: Path, compare_audio: bool = True) -> None:
    names = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file() and p.name != "failures.txt")
    assert names == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file() and p.name != "failures.txt")
    for name in names:
        if name.suffix == ".wav" and not compare_audio:
            assert sf.info(str(a / name)).frames == sf.info(str(b / name)).frames
        else:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_transcribe_killed_and_rerun(recordings: Path, tmp_path: Path) -> None:
    command = speech_command("transcribe", str(recordings), "--format", "txt,json", "--batch-seconds", "10")
    kill_midway([*command, "-o", str(tmp_path / "killed")], tmp_path / "killed", 1, whole_text)
    subprocess.run([*command, "-o", str(tmp_path / "killed")], check=True, capture_output=True)
    subprocess.run([*command, "-o", str(tmp_path / "whole")], check=True, capture_output=True)
    same_files(tmp_path / "killed", tmp_path / "whole")


def test_synthesize_lines_killed_and_rerun(tmp_path: Path) -> None:
    text = tmp_path / "lines.txt"
    text.write_text("".join(f"Line number {n} of the test, said once.\n" for n in range(1, 25)))
    command = speech_command("synthesize", str(text), "--lines", "--vocoder", "griffin-lim")
    kill_midway([*command, "-o", str(tmp_path / "killed")], tmp_path / "killed", 2, whole_audio)
    subprocess.run([*command, "-o", str(tmp_path / "killed")], check=True, capture_output=True)
    subprocess.run([*command, "-o", str(tmp_path / "whole")], check=True, capture_output=True)
    same_files(tmp_path / "killed", tmp_path / "whole")


def test_vocode_killed_and_rerun(recordings: Path, tmp_path: Path) -> None:
    command = speech_command("vocode", str(recordings), "--model", "griffin-lim")
    kill_midway([*command, "-o", str(tmp_path / "killed")], tmp_path / "killed", 3, whole_audio)
    subprocess.run([*command, "-o", str(tmp_path / "killed")], check=True, capture_output=True)
    subprocess.run([*command, "-o", str(tmp_path / "whole")], check=True, capture_output=True)
    same_files(tmp_path / "killed", tmp_path / "whole")


def test_shard_killed_and_rerun(recordings: Path, tmp_path: Path, librivox_dir: Path) -> None:
    manifest = tmp_path / "all.jsonl"
    utterances = import_sphinx(librivox_dir).utterances * 6
    write_manifest(
        manifest, [u.__class__(**{**vars(u), "id": f"{i}-{u.id}"}) for i, u in enumerate(utterances)]
    )
    command = speech_command("shard", str(manifest), "--max-samples", "2")
    kill_midway([*command, "-o", str(tmp_path / "killed")], tmp_path / "killed", 4, whole_text)
    subprocess.run([*command, "-o", str(tmp_path / "killed")], check=True, capture_output=True)
    subprocess.run([*command, "-o", str(tmp_path / "whole")], check=True, capture_output=True)
    same_files(tmp_path / "killed", tmp_path / "whole")
    assert json.loads((tmp_path / "killed" / "shards.json").read_text())
