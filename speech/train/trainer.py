"""One training loop for every model: AdamW, warm-up + decay, clipping, accumulation, mixed precision, DDP,
periodic validation with best-model selection, atomic checkpoints with exact resume, W&B tracking.

The loop never parses command lines or knows what a model is: a :class:`~speech.tasks.base.Task` supplies
the model, its features, its loss and its metrics.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from speech.audio import atomic_output
from speech.config import ExperimentConfig, check_paths, save_config
from speech.data.batching import Batch
from speech.data.corruption import waveform_corruption
from speech.data.loader import BatchStream, shard_loader
from speech.data.shards import check_stored_features, shard_urls
from speech.model_folder import config_must_match
from speech.registry import load_model
from speech.tasks import TASKS, Task
from speech.train import distributed
from speech.train.checkpoint import prune_checkpoints, resume_latest, save_checkpoint, save_weights
from speech.train.tracking import Tracker

log = logging.getLogger(__name__)


def lr_factor(
    step: int, warmup: int, total: int, schedule: str, floor: float, time_progress: float = 0.0
) -> float:
    """Linear warm-up to 1, then cosine or linear decay to ``floor`` at ``total`` steps (or constant).
    ``time_progress`` (the fraction of a time budget spent) moves the decay on when time runs out first."""
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    progress = min(1.0, max((step - warmup) / max(1, total - warmup), time_progress))
    decay = 0.5 * (1 + math.cos(math.pi * progress)) if schedule == "cosine" else 1 - progress
    return floor + (1 - floor) * decay


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def interleave(lists: list[list[str]]) -> list[str]:
    """The items of several lists taken in turn (a1, b1, a2, b2, ..., then the longer one's rest): the shards
    of several training folders in this order make the first batches, which estimate the feature statistics
    before shuffling starts, come from every folder, not the first one alone."""
    return [item for group in itertools.zip_longest(*lists) for item in group if item is not None]


class Trainer:
    """Trains ``config`` to ``config.train.max_steps``; ``train_stream`` replaces the shard stream (tests,
    notebooks)."""

    def __init__(self, config: ExperimentConfig, train_stream: BatchStream | None = None):
        if train_stream is None:
            check_paths(config)
            for source in config.data.train_sources:
                check_stored_features(source, config.features, config.augment.corrupts_audio)
        if config.data.valid:
            check_stored_features(config.data.valid, config.features, augmented=False)
        self.config = config
        self.env = distributed.setup(config.train.device)
        self.out_dir = Path(config.train.out_dir)
        self.task: Task = TASKS[config.task](config)
        precision = config.train.precision
        if precision == "auto":
            precision = "bf16" if self.env.device.type == "cuda" else "fp32"
        self.autocast_dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
        self.scaler = torch.amp.GradScaler(enabled=precision == "fp16")

        torch.manual_seed(config.train.seed)  # identical initial weights on every rank
        self.model: nn.Module = self.task.build_model().to(self.env.device)
        decay = [p for n, p in self.model.named_parameters() if p.ndim >= 2]
        no_decay = [p for n, p in self.model.named_parameters() if p.ndim < 2]
        optim = config.optim
        self.optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": optim.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=optim.lr,
            betas=tuple(optim.betas),
            fused=self.env.device.type == "cuda",
        )
        self.seconds = 0.0  # training time of this run, earlier sessions of it (before a resume) included
        self.started = time.monotonic()
        self.time_fraction = 0.0  # of train.max_minutes spent, the same on every rank
        self.scheduler = self._schedule(self.optimizer)
        # An adversarial stage's critic: its own optimizer (no weight decay) on the same schedule.
        self.critic = self.task.build_critic()
        if self.critic is not None:
            self.critic.to(self.env.device)
            self.critic_optimizer = torch.optim.AdamW(
                self.critic.parameters(),
                lr=optim.critic_lr or optim.lr,
                betas=tuple(optim.betas),
                weight_decay=0.0,
            )
            self.critic_scheduler = self._schedule(self.critic_optimizer)
            self.critic_wrapped = (
                DistributedDataParallel(self.critic, device_ids=self._device_ids())
                if self.env.enabled
                else self.critic
            )
        self.stream = train_stream or self._batches(
            interleave([shard_urls(source) for source in config.data.train_sources]),
            shuffle=True,
            shuffle_buffer=config.data.shuffle_buffer,
            repeat=True,
            seed=config.train.seed,
            rank=self.env.rank,
            world_size=self.env.world_size,
            corrupt=waveform_corruption(config.augment),
        )
        self.step = 0
        self.best: float | None = None

    def _schedule(self, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LambdaLR:
        optim = self.config.optim
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda step: lr_factor(
                step,
                optim.warmup_steps,
                self.config.train.max_steps,
                optim.schedule,
                optim.min_lr_ratio,
                self.time_fraction,
            ),
        )

    def _device_ids(self) -> list[int] | None:
        return [self.env.device.index] if self.env.device.type == "cuda" else None

    def update_time_fraction(self) -> None:
        """Measure the time budget spent, averaged over ranks so that all agree on the learning rate and on
        when to stop."""
        budget = 60 * self.config.train.max_minutes
        if budget > 0:
            spent = (self.seconds + time.monotonic() - self.started) / budget
            self.time_fraction = distributed.all_reduce_sum([spent], self.env)[0] / self.env.world_size

    # --- state -----------------------------------------------------------------------------------------------

    def state(self) -> dict:
        return {
            "step": self.step,
            "best": self.best,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng_state(),
            "batches_consumed": self.step * self.config.optim.accumulate,
            "seconds": self.seconds + time.monotonic() - self.started,
            "world_size": self.env.world_size,
            **(
                {
                    "critic": self.critic.state_dict(),
                    "critic_optimizer": self.critic_optimizer.state_dict(),
                    "critic_scheduler": self.critic_scheduler.state_dict(),
                }
                if self.critic is not None
                else {}
            ),
        }

    def restore(self, folder: Path, model_state: dict[str, torch.Tensor], state: dict) -> None:
        """Continue from a checkpoint's weights and state (as :func:`resume_latest` hands them over)."""
        self.model.load_state_dict(model_state)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        if self.critic is not None:  # a checkpoint without one does not fit (KeyError): not this stage's
            self.critic.load_state_dict(state["critic"])
            self.critic_optimizer.load_state_dict(state["critic_optimizer"])
            self.critic_scheduler.load_state_dict(state["critic_scheduler"])
        self.step, self.best = state["step"], state["best"]
        self.seconds = state.get("seconds", 0.0)
        if state["world_size"] != self.env.world_size:
            log.warning(
                "resuming on %d ranks a run saved on %d: the data order changes from here",
                self.env.world_size,
                state["world_size"],
            )
        self.stream.skip_batches = state["batches_consumed"]
        set_rng_state(state["rng"])
        log.info("resumed from %s at step %d", folder, self.step)

    def initialize_from(self, folder: Path) -> None:
        """Start from an exported model's weights, its normalisation statistics included (fine-tuning a
        shipped model on new recordings, or continuing one in a later run with a fresh schedule)."""
        loaded = load_model(folder, self.task.name, f"a {self.task.name} model")
        with config_must_match(folder):  # this run's architecture must be the folder's
            self.task.initialize(self.model, loaded.model)
        log.info("initialised from %s", folder)

    def checkpoint(self) -> None:
        if self.env.is_main:
            folder = save_checkpoint(
                self.out_dir / "checkpoints", self.step, self.model.state_dict(), self.state()
            )
            prune_checkpoints(self.out_dir / "checkpoints", self.config.train.keep_last)
            log.debug("saved %s", folder)
        distributed.barrier(self.env)

    def save_model(self, folder: Path, metrics: dict[str, float]) -> None:
        """A self-contained model folder (weights + the config inference needs), each file written atomically."""
        save_weights(folder / "model.safetensors", self.model.state_dict(), metadata={"task": self.task.name})
        with atomic_output(folder / "config.json", "w") as stream:
            json.dump({**self.task.export(), "step": self.step, "metrics": metrics}, stream, indent=1)

    # --- the loop --------------------------------------------------------------------------------------------

    def fit(self, resume: bool = False) -> dict[str, float]:
        """Train to ``max_steps``; with ``resume``, continue from the newest checkpoint in ``out_dir``."""
        config, env = self.config, self.env
        if env.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            save_config(config, self.out_dir / "config.yaml")
        # The newest checkpoint that loads (a damaged one is skipped, saying why), else a fresh start.
        resumed = resume and resume_latest(self.out_dir / "checkpoints", self.restore) is not None
        if not resumed:
            if config.train.init_from:
                self.initialize_from(Path(config.train.init_from))
            else:
                self.task.prepare(self.model, self._stats_batches())
            torch.manual_seed(config.train.seed + 1000 * env.rank)  # distinct dropout and masks per rank
        model = self.model
        if env.enabled:
            model = DistributedDataParallel(model, device_ids=self._device_ids())
        tracker = Tracker(config.tracking, config.to_dict(), self.out_dir, active=env.is_main)
        batches = iter(shard_loader(self.stream, config.data.num_workers))
        progress = tqdm(
            total=config.train.max_steps,
            initial=self.step,
            disable=None if env.is_main else True,  # on rank 0, and only on a terminal
            unit="step",
            dynamic_ncols=True,
        )
        metrics: dict[str, float] = {}
        window = {"loss": 0.0, "audio": 0.0, "count": 0, "terms": Counter(), "start": time.perf_counter()}
        self.started = time.monotonic()
        try:
            last = self.step >= config.train.max_steps
            while not last:
                loss, terms, audio_seconds, grad_norm = self._train_step(model, batches)
                self.step += 1
                last = self.step >= config.train.max_steps or self.time_fraction >= 1
                window["loss"] += loss
                window["terms"].update(terms)
                window["audio"] += audio_seconds
                window["count"] += 1
                progress.update(1)
                if self.step % config.train.log_every == 0 or last:
                    self._log_window(window, grad_norm, tracker, progress)
                if config.data.valid and (self.step % config.train.valid_every == 0 or last):
                    metrics = self._validate(tracker)
                if self.step % config.train.checkpoint_every == 0 or last:
                    self.checkpoint()
            if env.is_main:  # before the tracker closes, so the final weights reach it too
                self.save_model(self.out_dir / "last", metrics)
                tracker.log_model(self.out_dir / "last", ["latest"])
        finally:
            progress.close()
            tracker.close()
        distributed.teardown(env)
        return metrics

    def _batches(self, source: str | list[str], **options) -> BatchStream:
        """A stream of this task's batches (features, and waveforms when the task needs them) from shards."""
        return BatchStream(
            source,
            self.task.featurize,
            self.config.data.batch_seconds,
            max_batch_size=self.config.data.max_batch_size,
            keep_audio=self.task.needs_audio,
            **options,
        )

    def _stats_batches(self) -> Iterator[Batch]:
        """The same first batches on every rank (an unsplit, unshuffled stream), so statistics agree."""
        stream = self._batches(self.stream.urls)
        for count, batch in enumerate(stream):
            if count >= self.config.data.stats_batches:
                return
            yield batch

    def _train_step(
        self, model: nn.Module, batches: Iterator[Batch]
    ) -> tuple[float, Counter[str], float, float]:
        """One optimizer step: its loss, the loss's parts (as the task logs them), the audio seconds it
        learned from and the model's gradient norm."""
        model.train()
        accumulate = self.config.optim.accumulate
        total_loss, audio_seconds, terms = 0.0, 0.0, Counter()
        for micro in range(accumulate):
            batch = next(batches).to(self.env.device)
            sync = micro == accumulate - 1 or not isinstance(model, DistributedDataParallel)
            if self.critic is not None:
                self.critic.requires_grad_(False)  # the model's loss looks through the critic, not into it
            with contextlib.nullcontext() if sync else model.no_sync(), self._autocast():
                loss, logged = self.task.loss(model, batch)
            self.scaler.scale(loss / accumulate).backward()
            total_loss += loss.item() / accumulate
            terms.update({name: value / accumulate for name, value in logged.items()})
            audio_seconds += batch.audio_seconds
            if self.critic is not None:
                self.critic.requires_grad_(True)
                critic_sync = sync or self.critic_wrapped is self.critic
                with (
                    contextlib.nullcontext() if critic_sync else self.critic_wrapped.no_sync(),
                    self._autocast(),
                ):
                    critic_loss = self.task.critic_loss(self.critic_wrapped)
                self.scaler.scale(critic_loss / accumulate).backward()
                terms["critic"] += critic_loss.item() / accumulate
        grad_norm = self._step(self.optimizer, self.model)
        if self.critic is not None:
            self._step(self.critic_optimizer, self.critic)
        self.scaler.update()
        self.update_time_fraction()
        self.scheduler.step()
        if self.critic is not None:
            self.critic_scheduler.step()
        return total_loss, terms, audio_seconds, grad_norm

    def _step(self, optimizer: torch.optim.Optimizer, module: nn.Module) -> float:
        """Unscale, clip to ``optim.grad_clip`` and apply ``module``'s gradients; its gradient norm."""
        self.scaler.unscale_(optimizer)
        clip = self.config.optim.grad_clip
        grad_norm = torch.nn.utils.clip_grad_norm_(module.parameters(), clip if clip > 0 else float("inf"))
        self.scaler.step(optimizer)
        optimizer.zero_grad(set_to_none=True)
        return grad_norm.item()

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.env.device.type, dtype=self.autocast_dtype)

    def _log_window(self, window: dict, grad_norm: float, tracker: Tracker, progress: tqdm) -> None:
        elapsed = time.perf_counter() - window["start"]
        names = sorted(window["terms"])  # the same on every rank: one task, one loss
        loss_sum, audio, count, *term_sums = distributed.all_reduce_sum(
            [window["loss"], window["audio"], window["count"], *(window["terms"][n] for n in names)], self.env
        )
        values = {
            "train/loss": loss_sum / count,
            **{f"train/{name}": total / count for name, total in zip(names, term_sums, strict=True)},
            "train/lr": self.scheduler.get_last_lr()[0],
            "train/grad_norm": grad_norm,
            "train/audio_seconds_per_second": audio / elapsed,
        }
        tracker.log(values, self.step)
        progress.set_postfix(
            loss=f"{values['train/loss']:.3f}",
            lr=f"{values['train/lr']:.2e}",
            speed=f"{values['train/audio_seconds_per_second']:.0f}x",
        )
        window.update(loss=0.0, audio=0.0, count=0, terms=Counter(), start=time.perf_counter())

    def _validate(self, tracker: Tracker) -> dict[str, float]:
        """Validate on rank 0 while the others wait; keep the best model by ``train.best_metric``."""
        metrics: dict[str, float] = {}
        if self.env.is_main:
            stream = self._batches(self.config.data.valid)
            self.model.eval()
            with self._autocast():
                metrics, media = self.task.evaluate(
                    self.model, (b.to(self.env.device) for b in shard_loader(stream))
                )
            validations = self.step // self.config.train.valid_every
            if validations % self.config.tracking.media_every:
                media = {}
            tracker.log(
                {
                    **{f"valid/{k}": v for k, v in metrics.items()},
                    **{f"media/{k}": v for k, v in media.items()},
                },
                self.step,
            )
            score = metrics[self.config.train.best_metric]
            better = self.best is None or (
                score < self.best if self.config.train.best_mode == "min" else score > self.best
            )
            if better:
                self.best = score
                self.save_model(self.out_dir / "best", metrics)
            summary = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
            log.info("step %d: %s%s", self.step, summary, " (best)" if better else "")
        distributed.barrier(self.env)
        return metrics
