from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch.utils.data import IterableDataset

from speech.cli import main
from speech.config import load_config
from speech.data.importers import import_sphinx
from speech.data.loader import BatchStream
from speech.data.shards import StoredFeatures, shard_urls, write_shards
from speech.errors import SpeechError
from speech.features import FeatureExtractor
from speech.tasks.asr import ASRTask
from speech.train.trainer import Trainer

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "conf" / "asr" / "tiny.yaml"
# No dropout or SpecAugment: runs with different process layouts must see the same randomness-free maths.
EXACT = ["model.dropout=0.0", "augment.freq_masks=0", "augment.time_masks=0"]


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def test_speech_train_end_to_end(tmp_path: Path, real_shards: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    status = main(
        [
            "train",
            str(TINY),
            f"data.train={real_shards}",
            f"data.valid={real_shards}",
            f"train.out_dir={out}",
            "train.max_steps=30",
            "train.keep_last=2",
        ]
    )
    assert status == 0
    assert "cer=" in capsys.readouterr().out
    assert (out / "config.yaml").is_file()
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["step-000000020", "step-000000030"]
    exported = json.loads((out / "last" / "config.json").read_text())
    assert exported["task"] == "asr" and exported["step"] == 30 and len(exported["vocab"]) == 29
    assert {"loss", "cer", "wer"} <= set(exported["metrics"])
    best = json.loads((out / "best" / "config.json").read_text())
    assert best["metrics"]["cer"] <= exported["metrics"]["cer"]
    # It learned something: the validation loss fell well below an untrained model's (about 5.5 here).
    assert exported["metrics"]["loss"] < 4.0
    model = ASRTask(load_config(TINY)).build_model()
    model.load_state_dict(_weights(out / "last" / "model.safetensors"))  # the exported weights fit the model
    config_mode = (out / "last" / "config.json").stat().st_mode & 0o777
    assert (out / "last" / "model.safetensors").stat().st_mode & 0o777 == config_mode  # not owner-only


def test_killed_run_resumes_exactly(tmp_path: Path, real_shards: Path) -> None:
    base = [
        f"data.train={real_shards}",
        "train.max_steps=24",
        "train.checkpoint_every=4",
        "train.log_every=4",
        *EXACT,
    ]
    command = [sys.executable, "-m", "speech", "train", str(TINY), *base]
    subprocess.run([*command, f"train.out_dir={tmp_path / 'whole'}"], check=True, capture_output=True)

    cut = tmp_path / "cut"
    process = subprocess.Popen(
        [*command, f"train.out_dir={cut}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while not (cut / "checkpoints" / "step-000000012").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    done = sorted(p.name for p in (cut / "checkpoints").iterdir() if p.name.startswith("step-"))
    assert "step-000000024" not in done  # it really was cut short

    subprocess.run([*command, f"train.out_dir={cut}", "--resume"], check=True, capture_output=True)
    whole = _weights(tmp_path / "whole" / "last" / "model.safetensors")
    resumed = _weights(cut / "last" / "model.safetensors")
    for name, tensor in whole.items():
        assert torch.allclose(tensor, resumed[name], atol=1e-6), name


class Interleaved(IterableDataset):
    """One process playing two ranks: rank 0's batch, then rank 1's, ... (the DDP run's global batches)."""

    def __init__(self, ranks: list[BatchStream]):
        self.ranks, self.urls, self.seed, self.skip_batches = ranks, ranks[0].urls, ranks[0].seed, 0

    def __iter__(self) -> Iterator:
        for batches in zip(*self.ranks, strict=False):
            yield from batches


def test_two_process_ddp_matches_one_process_with_the_same_global_batch(
    tmp_path: Path, real_shards: Path
) -> None:
    overrides = [f"data.train={real_shards}", "train.max_steps=8", "data.batch_seconds=8", *EXACT]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(REPO / "tests" / "train" / "ddp_worker.py"),
            str(TINY),
            str(tmp_path),
            f"train.out_dir={tmp_path / 'ddp'}",
            *overrides,
        ],
        check=True,
        capture_output=True,
        env=environment,
    )
    rank0, rank1 = _weights(tmp_path / "rank0.safetensors"), _weights(tmp_path / "rank1.safetensors")
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), name  # replicas never drift apart

    config = load_config(TINY, [*overrides, "optim.accumulate=2", f"train.out_dir={tmp_path / 'single'}"])
    task = ASRTask(config)
    streams = [
        BatchStream(
            real_shards,
            task.featurize,
            8.0,
            shuffle=True,
            shuffle_buffer=config.data.shuffle_buffer,
            repeat=True,
            seed=config.train.seed,
            rank=rank,
            world_size=2,
        )
        for rank in range(2)
    ]
    single = Trainer(config, train_stream=Interleaved(streams))
    single.fit()
    moved = 0.0
    torch.manual_seed(config.train.seed)
    initial = ASRTask(config).build_model().state_dict()
    for name, tensor in single.model.state_dict().items():
        assert torch.allclose(tensor, rank0[name], atol=1e-5), name
        moved = max(moved, (tensor - initial[name]).abs().max().item())
    assert moved > 1e-3  # the comparison is not between two untrained models


SHIPPED_ASR = REPO / "speech" / "assets" / "asr"
SMALL = REPO / "conf" / "asr" / "small.yaml"


def test_init_from_fine_tunes_the_shipped_recognizer(tmp_path: Path, real_shards: Path) -> None:
    base = [f"data.train={real_shards}", f"data.valid={real_shards}", f"train.init_from={SHIPPED_ASR}"]
    base += ["optim.warmup_steps=1", "optim.lr=5e-4", "data.batch_seconds=30", "tracking.mode=disabled"]
    untouched = Trainer(
        load_config(SMALL, [*base, f"train.out_dir={tmp_path / 'zero'}", "train.max_steps=0"])
    )
    untouched.fit()
    valid = BatchStream(str(real_shards), untouched.task.featurize, 30.0)
    untouched.model.eval()
    before, _ = untouched.task.evaluate(untouched.model, valid)
    shipped = _weights(SHIPPED_ASR / "model.safetensors")
    exported = _weights(tmp_path / "zero" / "last" / "model.safetensors")
    assert all(torch.equal(shipped[name], exported[name]) for name in shipped)  # normaliser included

    tuned = Trainer(load_config(SMALL, [*base, f"train.out_dir={tmp_path / 'tuned'}", "train.max_steps=8"]))
    after = tuned.fit()
    # Fine-tuning on the real read speech fits it better than the shipped model does.
    assert after["loss"] < 0.9 * before["loss"]


def test_init_from_a_model_of_another_shape_is_one_line(tmp_path: Path, real_shards: Path) -> None:
    status = main(
        [
            "train",
            str(TINY),
            f"data.train={real_shards}",
            f"train.out_dir={tmp_path}",
            f"train.init_from={SHIPPED_ASR}",
            "train.max_steps=2",
        ]
    )
    assert status == 1
    with pytest.raises(Exception, match="holds no model.safetensors"):
        Trainer(load_config(TINY, [f"data.train={real_shards}", f"train.init_from={tmp_path}"]))


def test_a_time_budget_ends_the_run_with_its_schedule_decayed(tmp_path: Path, real_shards: Path) -> None:
    overrides = [f"data.train={real_shards}", f"train.out_dir={tmp_path}", "train.max_steps=100000"]
    overrides += ["train.max_minutes=0.05", "train.log_every=1000", "optim.warmup_steps=2"]
    trainer = Trainer(load_config(TINY, overrides))
    trainer.fit()
    assert 2 < trainer.step < 100000
    assert trainer.time_fraction >= 1
    floor = trainer.config.optim.min_lr_ratio * trainer.config.optim.lr
    assert trainer.scheduler.get_last_lr()[0] == pytest.approx(floor)  # decayed by time, not by steps
    assert (tmp_path / "last" / "model.safetensors").is_file()
    assert max(p.name for p in (tmp_path / "checkpoints").iterdir()) == f"step-{trainer.step:09d}"


def test_several_training_folders_are_read_as_one(
    tmp_path: Path, real_shards: Path, librivox_dir: Path
) -> None:
    """A list in data.train mixes shard folders, here one that stores its frames (as a voice's predictions are
    stored for the vocoder) beside one whose frames are computed; each is checked on its own."""
    features = load_config(TINY).features
    extractor = FeatureExtractor(features)
    stored = tmp_path / "stored"
    frames = StoredFeatures("computed", features, lambda _, samples: extractor(samples).numpy())
    write_shards(import_sphinx(librivox_dir).utterances[:2], stored, features=frames)
    overrides = [f"data.train=[{real_shards}, {stored}]", f"train.out_dir={tmp_path / 'run'}"]
    overrides += ["train.max_steps=3", "train.log_every=1000", "augment.freq_masks=0", "augment.time_masks=0"]
    trainer = Trainer(load_config(TINY, overrides))
    (first, second, third), (fourth,) = shard_urls(real_shards), shard_urls(stored)
    assert trainer.stream.urls == [first, fourth, second, third]  # in turn: statistics see both folders
    trainer.fit()
    assert trainer.step == 3 and (tmp_path / "run" / "last" / "model.safetensors").is_file()
    with pytest.raises(SpeechError, match=r"stored/shards.json: these shards store their frames"):
        Trainer(load_config(TINY, [*overrides, "augment.noise_prob=0.5"]))


def test_resume_falls_back_past_a_truncated_newest_checkpoint(
    tmp_path: Path, real_shards: Path, caplog: pytest.LogCaptureFixture
) -> None:
    base = [f"data.train={real_shards}", "train.max_steps=8", "train.checkpoint_every=4", *EXACT]
    Trainer(load_config(TINY, [*base, f"train.out_dir={tmp_path / 'whole'}"])).fit()
    cut = tmp_path / "cut"
    Trainer(load_config(TINY, [*base, f"train.out_dir={cut}"])).fit()
    newest = cut / "checkpoints" / "step-000000008" / "model.safetensors"
    newest.write_bytes(newest.read_bytes()[:100])  # a copy cut short, a disk fault
    (cut / "last").rename(cut / "last-before")

    caplog.set_level(logging.INFO)
    resumed = Trainer(load_config(TINY, [*base, f"train.out_dir={cut}"]))
    resumed.fit(resume=True)
    assert f"skipping checkpoint {newest.parent}: unreadable checkpoint" in caplog.text
    assert f"resumed from {cut / 'checkpoints' / 'step-000000004'} at step 4" in caplog.text
    whole = _weights(tmp_path / "whole" / "last" / "model.safetensors")
    again = _weights(cut / "last" / "model.safetensors")
    for name, tensor in whole.items():
        assert torch.allclose(tensor, again[name], atol=1e-6), name
    assert (cut / "checkpoints" / "step-000000008" / "model.safetensors").stat().st_size > 100  # rewritten
