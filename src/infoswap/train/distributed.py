"""Multi-process training under `torchrun`: process group, device, rank-0 writing, gradient averaging.

Gradients are averaged with one all-reduce per flat bucket after each backward: the same result as
torch's DistributedDataParallel, which would need every loss term to be computed inside a single
module's forward (Algorithm 1 spreads one step over several modules and two backward passes).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from infoswap.errors import InfoswapError

BUCKET_ELEMENTS = 1 << 24  # 64 MB of float32 per all-reduce


@dataclass(frozen=True)
class Process:
    rank: int
    world: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_process(device: str = "auto") -> Process:
    """Joins the torchrun process group if launched by torchrun (gloo on CPU, nccl on GPU)."""
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        raise InfoswapError("--device cuda: no CUDA device is available")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local_rank)
        target = torch.device("cuda", local_rank)
    else:
        target = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", rank=rank, world_size=world)
    return Process(rank, world, target)


def close_process() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def average_gradients(parameters: Iterable[nn.Parameter], world: int) -> None:
    """All-reduces and averages the .grad of every parameter that has one, in flat buckets."""
    if world == 1:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    start = 0
    while start < len(grads):
        bucket, size = [], 0
        while start < len(grads) and (not bucket or size + grads[start].numel() <= BUCKET_ELEMENTS):
            bucket.append(grads[start])
            size += grads[start].numel()
            start += 1
        flat = torch.cat([g.reshape(-1) for g in bucket])
        dist.all_reduce(flat)
        flat /= world
        offset = 0
        for g in bucket:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()


def broadcast_module(module: nn.Module) -> None:
    """Makes every rank start from rank 0's parameters and buffers."""
    if dist.is_initialized():
        for t in module.state_dict().values():
            dist.broadcast(t, 0)


def any_rank(flag: bool, process: Process) -> bool:
    """True on every rank if `flag` is true on any rank (e.g. a stop signal seen by one process)."""
    if process.world == 1:
        return flag
    t = torch.tensor([int(flag)], device=process.device)
    dist.all_reduce(t)
    return bool(t.item())


def gather_to_main(obj: Any, process: Process) -> list[Any] | None:
    """Every rank's `obj` on rank 0 (None elsewhere); objects travel in memory only, never to disk."""
    if process.world == 1:
        return [obj]
    out = [None] * process.world if process.is_main else None
    dist.gather_object(obj, out, dst=0)
    return out


def share_from_main(obj: Any, process: Process) -> Any:
    """Rank 0's `obj` on every rank."""
    if process.world == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
