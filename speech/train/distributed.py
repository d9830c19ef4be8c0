"""Process-group set-up for DistributedDataParallel under torchrun (NCCL on CUDA, gloo on CPU)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from speech.device import resolve_device


@dataclass(frozen=True)
class Distributed:
    rank: int
    local_rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device_request: str) -> Distributed:
    """Join the process group that torchrun describes in the environment (or run alone)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_request, "train.device", local_rank)
    if world_size > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Distributed(rank, local_rank, world_size, device)


def all_reduce_sum(values: list[float], env: Distributed) -> list[float]:
    """Sum a few numbers over ranks (for throughput and metrics); a no-op when alone."""
    if not env.enabled:
        return values
    tensor = torch.tensor(
        values, dtype=torch.float64, device=env.device if env.device.type == "cuda" else "cpu"
    )
    dist.all_reduce(tensor)
    return tensor.tolist()


def barrier(env: Distributed) -> None:
    if env.enabled:
        dist.barrier()


def teardown(env: Distributed) -> None:
    if env.enabled and dist.is_initialized():
        dist.destroy_process_group()
