"""Turns a recogniser checkpoint people already have (.pth) into a safetensors file (`infoswap convert`).

The only place the project reads pickle, and only through `torch.load(weights_only=True)`: tensors and
plain containers, never code. The tensors keep their names (the modules in `irse50` carry the checkpoint
names), so the output is the same state_dict, checked to load strictly, stored as float32, less BatchNorm's
`num_batches_tracked` counters (training bookkeeping; zeros are put back on load, as PyTorch itself does).
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError

from infoswap.errors import InfoswapError
from infoswap.recognition.irse50 import ARCHS, HEAD_WEIGHT, arch_of, fill_batch_counters, input_size_of, make
from infoswap.weights.store import load_into, save_state, sha256_of
from infoswap.weights.tfjs import TfjsTensor

# Where training scripts tuck the network's state_dict: arcface_torch's checkpoint_gpu_*.pt, Lightning-style
# and generic wrappers.
WRAPPERS = ("state_dict_backbone", "state_dict", "model")


INCEPTION_KEY = "Mixed_7c.branch_pool.conv.weight"  # in every Inception-v3 state dict, never in a recogniser's


def read_torch_state(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a .pth state_dict (raw or wrapped, 'module.' prefix stripped), read without pickle code."""
    if not path.is_file():
        raise InfoswapError(f"checkpoint {path} not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(e))
        if found:
            raise InfoswapError(f"{path} holds Python objects ({found.group(1)}), not only tensors, and infoswap "
                                "does not unpickle code; re-save it as torch.save(model.state_dict(), path)") from None
        raise InfoswapError(f"{path} is not a PyTorch checkpoint (unreadable pickle)") from None
    except (RuntimeError, EOFError, KeyError, ValueError, OSError, SafetensorError) as e:
        # SafetensorError: torch.load hands files that start like safetensors to safetensors' reader
        raise InfoswapError(f"{path} is not a PyTorch checkpoint ({type(e).__name__})") from None
    if isinstance(obj, dict):
        obj = next((obj[k] for k in WRAPPERS if isinstance(obj.get(k), dict)), obj)
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InfoswapError(f"{path} holds no state_dict (a dict of tensors, possibly under one of {list(WRAPPERS)})")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def convert_checkpoint(source: Path, arch: str, out: Path) -> dict[str, str]:
    """Reads `source`, checks it loads strictly into `arch`, writes `out` atomically; returns the metadata."""
    if arch not in ARCHS:
        raise InfoswapError(f"--arch must be one of {sorted(ARCHS)}, got {arch!r}")
    state = read_convertible(source, out)
    if INCEPTION_KEY in state:
        raise InfoswapError(f"{source} is an Inception-v3 (pytorch-fid's FID network), not a recogniser; "
                            "use --arch inception")
    other = arch_of(state)
    if other is not None and other != arch:
        raise InfoswapError(f"{source} has the {other} layout ({HEAD_WEIGHT[other]}); use --arch {other}")
    model = make(arch, input_size_of(arch, state), initialise=False)
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    load_into(model, fill_batch_counters(model, state), str(source))
    metadata = {"arch": arch, "input_size": str(model.input_size), "channels": "bgr" if model.bgr else "rgb"}
    kept = {k: v for k, v in state.items() if not k.endswith(".num_batches_tracked")}  # refilled on load
    return write_converted(out, kept, source, metadata)


def read_convertible(source: Path, out: Path) -> dict[str, torch.Tensor]:
    """The tensors of the .pth `source`, refusing an --out that would overwrite it."""
    if out.exists() and out.resolve() == source.resolve():
        raise InfoswapError(f"--out {out} is the checkpoint itself; choose another file")
    return read_torch_state(source)


def write_converted(out: Path, state: dict[str, torch.Tensor], source: Path,
                    metadata: dict[str, str]) -> dict[str, str]:
    """Writes `state` to `out` atomically, its metadata plus where it came from; returns that metadata."""
    metadata = {**metadata, "source": source.name, "source_sha256": sha256_of(source)}
    save_state(out, {k: TfjsTensor(np.ascontiguousarray(v.numpy())) for k, v in state.items()}, metadata)
    return metadata
