"""Typed experiment configs: YAML files and ``key=value`` overrides, checked before any work starts.

    speech train conf/asr/small.yaml optim.lr=3e-4 data.batch_seconds=200

A config is a tree of dataclasses. Loading walks the YAML against it: an unknown key (with a suggestion for
typos), a value of the wrong type or a missing required value is a :class:`ConfigError` naming the file and
the dotted key. The model section's class depends on ``task``: :mod:`speech.registry` says which.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import math
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from speech.audio import atomic_output
from speech.errors import SpeechError
from speech.features import FeatureConfig, SpecAugmentConfig
from speech.registry import ARCHITECTURES


class ConfigError(SpeechError):
    """A config that cannot run: unknown key, wrong type, missing value or path."""


@dataclass
class DataConfig:
    train: str | list[str] = ""  # shard folder (written by `speech shard`), or a list of them to mix
    valid: str = ""  # shard folder for validation; empty: no validation
    batch_seconds: float = 200.0  # padded audio seconds per batch on each rank
    max_batch_size: int = 256
    shuffle_buffer: int = 2000
    num_workers: int = 1  # DataLoader processes per rank for decoding and features
    stats_batches: int = 50  # batches read to estimate feature normalisation statistics

    @property
    def train_sources(self) -> list[str]:
        """The training shard folders: several are read as one corpus, their shards shuffled together (a
        vocoder fine-tuned on a voice's predicted frames can keep hearing recordings' frames this way)."""
        return [self.train] if isinstance(self.train, str) else list(self.train)


@dataclass
class OptimConfig:
    lr: float = 1e-3
    betas: list[float] = field(default_factory=lambda: [0.9, 0.98])
    weight_decay: float = 0.01
    schedule: str = "cosine"  # cosine | linear | constant, after linear warm-up
    warmup_steps: int = 500
    min_lr_ratio: float = 0.05  # the schedule's floor, as a fraction of lr
    grad_clip: float = 5.0  # max global gradient norm; 0 disables clipping
    accumulate: int = 1  # micro-batches per optimizer step
    critic_lr: float = 0.0  # an adversarial stage's critic's peak learning rate (0: lr), on the same schedule


@dataclass
class RunConfig:
    out_dir: str = "exp/run"
    init_from: str = ""  # a model folder (e.g. speech/assets/asr) whose weights start the run: fine-tuning
    max_steps: int = 10_000
    max_minutes: float = 0.0  # also stop after this long (0: none); the schedule decays over what ends first
    log_every: int = 50
    valid_every: int = 1000
    checkpoint_every: int = 1000
    keep_last: int = 3  # checkpoints kept besides the best
    best_metric: str = "loss"  # a validation metric name; "loss" is always there
    best_mode: str = "min"  # min | max
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = "auto"  # auto (bf16 on CUDA, fp32 on CPU) | fp32 | bf16 | fp16


@dataclass
class TrackingConfig:
    project: str = "speech"
    name: str = ""  # run name; default: the out_dir's name
    mode: str = "auto"  # auto (online with an API key, else offline) | online | offline | disabled
    media_every: int = 1  # log audio/images at every Nth validation
    log_model: bool = True  # the best (and final) model folder as a W&B artifact; WANDB_LOG_MODEL=false wins


@dataclass
class ExperimentConfig:
    task: str
    model: Any  # the task's model config dataclass: its architecture
    loss: Any = None  # the task's loss settings dataclass (speech.registry says which)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    augment: SpecAugmentConfig = field(default_factory=SpecAugmentConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: RunConfig = field(default_factory=RunConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


CHOICES = {
    "optim.schedule": ("cosine", "linear", "constant"),
    "train.best_mode": ("min", "max"),
    "train.precision": ("auto", "fp32", "bf16", "fp16"),
    "tracking.mode": ("auto", "online", "offline", "disabled"),
}


def _at_least(low: float) -> tuple[typing.Callable[[float], bool], str]:
    return (lambda value: value >= low), f"at least {low}"


def _above(low: float) -> tuple[typing.Callable[[float], bool], str]:
    return (lambda value: value > low), f"greater than {low}"


def _between(low: float, high: float) -> tuple[typing.Callable[[float], bool], str]:
    return (lambda value: low <= value <= high), f"between {low} and {high}"


# Numbers that only make sense in a range, checked with the types: `optim.lr=-1` or `train.max_steps=-5` would
# otherwise train backwards, or export an untrained model and exit 0; an `*_every` of 0 divides by zero.
LIMITS = {
    "data.batch_seconds": _above(0),
    "data.max_batch_size": _at_least(1),
    "data.shuffle_buffer": _at_least(0),
    "data.num_workers": _at_least(0),
    "data.stats_batches": _at_least(1),
    "optim.lr": _above(0),
    "optim.betas": _between(0, 1),
    "optim.weight_decay": _at_least(0),
    "optim.warmup_steps": _at_least(0),
    "optim.min_lr_ratio": _between(0, 1),
    "optim.grad_clip": _at_least(0),
    "optim.accumulate": _at_least(1),
    "optim.critic_lr": _at_least(0),
    "train.max_steps": _at_least(0),
    "train.max_minutes": _at_least(0),
    "train.log_every": _at_least(1),
    "train.valid_every": _at_least(1),
    "train.checkpoint_every": _at_least(1),
    "train.keep_last": _at_least(0),
    "tracking.media_every": _at_least(1),
}


def _check_limit(key: str, value: Any) -> None:
    if key not in LIMITS:
        return
    fits, wanted = LIMITS[key]
    for number in value if isinstance(value, list) else [value]:
        if not fits(number):
            raise ConfigError(f"{key}: must be {wanted}, got {number!r}")


def _type_name(kind: Any) -> str:
    """``str``, ``a list of str``: how an error names a type."""
    if typing.get_origin(kind) is list:
        return f"a list of {_type_name(typing.get_args(kind)[0])}"
    return getattr(kind, "__name__", str(kind))


def _check_type(value: Any, kind: Any, where: str) -> Any:
    """Return ``value`` as ``kind`` (ints widen to floats), or raise naming the key."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(kind) if option is not type(None)]
        if value is None and len(options) < len(typing.get_args(kind)):
            return None
        if len(options) == 1:
            return _check_type(value, options[0], where)
        # A list goes to the union's list type, whose error names the element; anything else to the first
        # option it fits.
        listed = [option for option in options if typing.get_origin(option) is list]
        if isinstance(value, list) and listed:
            return _check_type(value, listed[0], where)
        for option in options:
            with contextlib.suppress(ConfigError):
                return _check_type(value, option, where)
        names = " or ".join(_type_name(option) for option in options)
        raise ConfigError(f"{where}: expected {names}, got {value!r}")
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item,) = typing.get_args(kind)
        return [_check_type(element, item, f"{where}[{i}]") for i, element in enumerate(value)]
    if dataclasses.is_dataclass(kind):
        return _build(kind, value, where)
    if kind is Any:
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}")
    if kind is float and not math.isfinite(value):
        raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    return value


def _build(cls: type, values: Any, where: str) -> Any:
    """Instantiate dataclass ``cls`` from a mapping; ``where`` is the dotted key of the mapping ('' at the top)."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping of {cls.__name__} fields, got {values!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in values:
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(fields)})"
            raise ConfigError(f"{where + '.' if where else ''}{key}: unknown key{hint}")
    arguments = {}
    for name, spec in fields.items():
        key = f"{where}.{name}" if where else name
        if name in values:
            arguments[name] = _check_type(values[name], hints[name], key)
            _check_limit(key, arguments[name])
            choices = CHOICES.get(key)
            if choices and arguments[name] not in choices:
                raise ConfigError(f"{key}: must be one of {', '.join(choices)}, got {arguments[name]!r}")
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{key}: required but missing")
    return cls(**arguments)


def apply_override(tree: dict, override: str) -> None:
    """Set ``a.b.c=value`` in a nested dict; the value is parsed as YAML (numbers, lists, booleans)."""
    if "=" not in override:
        raise ConfigError(f"override {override!r}: expected key=value, e.g. optim.lr=3e-4")
    dotted, raw = override.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as error:  # a !!python/object tag, unbalanced brackets, ...
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"override {override!r}: not a YAML value ({problem})") from None
    if isinstance(value, str) and _looks_like_float(raw):
        value = float(raw)  # YAML 1.1 reads 3e-4 as a string
    keys = dotted.strip().split(".")
    node = tree
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {override!r}: {key} is not a section")
    node[keys[-1]] = value


def _looks_like_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_config(
    path: str | os.PathLike | None, overrides: list[str] = (), base: dict | None = None
) -> ExperimentConfig:
    """Load a YAML config (or start from ``base``), apply overrides, and type-check the result."""
    tree: dict = dict(base or {})
    source = str(path) if path else "config"
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except OSError as error:
            raise ConfigError(f"{path}: cannot read ({error.strerror})") from None
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        tree.update(loaded)
    for override in overrides:
        apply_override(tree, override)
    task = tree.get("task")
    if task not in ARCHITECTURES:
        raise ConfigError(f"{source}: task must be one of {', '.join(sorted(ARCHITECTURES))}, got {task!r}")
    try:
        model = _build(ARCHITECTURES[task].config, tree.get("model") or {}, "model")
        loss = _build(ARCHITECTURES[task].loss, tree.get("loss") or {}, "loss")
        config = _build(ExperimentConfig, {**tree, "model": None, "loss": None}, "")
    except (SpeechError, TypeError, ValueError) as error:  # ours, or a config class's own validation
        raise ConfigError(f"{source}: {error}") from None
    config.model, config.loss = model, loss
    return config


def check_paths(config: ExperimentConfig) -> None:
    """Fail before training starts if a data folder is missing (not after an hour of start-up)."""
    sources = config.data.train_sources
    if not sources or not all(sources):
        raise ConfigError(
            "data.train: required (a shard folder written by `speech shard`, or a list of them)"
        )
    for key, folder in [*(("train", folder) for folder in sources), ("valid", config.data.valid)]:
        if folder and not (Path(folder) / "shards.json").is_file():
            raise ConfigError(f"data.{key}: {folder} holds no shards.json (write it with `speech shard`)")
    init = config.train.init_from
    if init and not (Path(init) / "model.safetensors").is_file():
        raise ConfigError(f"train.init_from: {init} holds no model.safetensors (an exported model folder)")


def save_config(config: ExperimentConfig, path: str | os.PathLike) -> None:
    with atomic_output(path, "w") as stream:
        yaml.safe_dump(config.to_dict(), stream, sort_keys=False)
