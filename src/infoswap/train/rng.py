"""Every random stream a training step touches, captured and restored, so that a resume is bit-exact."""

from __future__ import annotations

import random

import numpy as np
import torch


def capture_rng(generators: dict[str, torch.Generator]) -> dict:
    """torch CPU (+ CUDA), numpy and python global states, and the named torch.Generator objects."""
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
             "generators": {name: g.get_state() for name, g in generators.items()}}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict, generators: dict[str, torch.Generator]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    missing = sorted(set(generators) - set(state["generators"]))
    if missing:
        raise ValueError(f"training state has no RNG state for generator(s) {missing}")
    for name, g in generators.items():
        g.set_state(state["generators"][name])


def seed_everything(seed: int) -> None:
    """Seeds the global torch, numpy and python streams (per process: seed = base + rank)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
