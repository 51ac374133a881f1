"""Atomic, pickle-free checkpoints: inference weights and training state as two safetensors files.

Layout in a run folder (edm's network-snapshot / training-state split):
  network-snapshot-<step>.safetensors  weights by group ("model.*", "ema.*", "stats.*"); metadata carries
                                       the model config as JSON, so the file rebuilds its model
  training-state-<step>.safetensors    optimiser state, D, step, data position, RNG states, AMP scaler:
                                       tensors stored as tensors, the nested structure around them as JSON
  checkpoint-<step>.json               written last; names both files with their sha256

A checkpoint is complete only when its marker exists and both hashes match, so a crash at any point
leaves the previous complete checkpoint as the one `latest_complete` finds. Every file is serialised in
memory, written by us to a temporary name in the same folder, fsynced, renamed over the final name, and the
folder is fsynced; no library writes into the folder, so the only leftovers of a kill are our own temps.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes

from infoswap.errors import InfoswapError
from infoswap.weights.store import sha256_of as sha256_file  # one implementation for every file checksum

NETWORK_FORMAT = "infoswap-network-snapshot/1"
STATE_FORMAT = "infoswap-training-state/1"
TEMP_MARK = ".tmp-"
# Our temps, and the ".tmpXXXXXX" that safetensors' save_file leaves beside its target when killed: older
# infoswap versions let it write checkpoints, so a run folder they wrote may still hold one.
_STALE_TEMP = re.compile(r"^\.tmp(-|[A-Za-z0-9_]{6}$)")
_MARKER = re.compile(r"^checkpoint-(\d+)\.json$")


def network_name(step: int) -> str:
    return f"network-snapshot-{step:08d}.safetensors"


def state_name(step: int) -> str:
    return f"training-state-{step:08d}.safetensors"


def marker_name(step: int) -> str:
    return f"checkpoint-{step:08d}.json"


# --- atomic files ---------------------------------------------------------------------------------------

def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Writes `data` to a temp file beside `path`, fsyncs it and renames it onto `path`.

    Readers see either the old file or the complete new one, never a partial one. A failed write (full
    disk, read-only or vanished folder) removes the temp file and is an InfoswapError naming `path`.
    """
    path = Path(path)
    temp = path.with_name(f"{TEMP_MARK}{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        with open(temp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except OSError as e:
        temp.unlink(missing_ok=True)
        raise InfoswapError(f"{path}: cannot write ({e.strerror or e}); the disk may be full or the folder "
                            "not writable") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, text.encode("utf-8"))


def remove_stale_temps(folder: Path) -> int:
    """Deletes temp files left by a killed writer; returns how many. Call from the single writer only."""
    stale = [p for p in Path(folder).iterdir() if _STALE_TEMP.match(p.name) and p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)


# --- nested state <-> (JSON structure, flat tensors) -----------------------------------------------------

def encode_state(obj: Any, tensors: dict[str, torch.Tensor], path: str = "s") -> Any:
    """Replaces every tensor / ndarray in a nested structure by a reference into `tensors`.

    Dicts keep their key types (optimiser state is keyed by int), tuples stay tuples; only JSON scalars,
    str, tensors and ndarrays may appear at the leaves, so decoding never needs pickle.
    """
    if isinstance(obj, torch.Tensor):
        tensors[path] = obj.detach().cpu().contiguous().clone()
        return {"T": path}
    if isinstance(obj, np.ndarray):
        stored = np.int64 if obj.dtype == np.uint32 else obj.dtype  # torch has no full uint32 support
        tensors[path] = torch.from_numpy(np.ascontiguousarray(obj).astype(stored))
        return {"A": path, "dtype": str(obj.dtype)}
    if isinstance(obj, dict):
        return {"D": [[encode_state(k, tensors, f"{path}.k{i}"), encode_state(v, tensors, f"{path}.{i}")]
                      for i, (k, v) in enumerate(obj.items())]}
    if isinstance(obj, (list, tuple)):
        items = [encode_state(v, tensors, f"{path}.{i}") for i, v in enumerate(obj)]
        return {"L" if isinstance(obj, list) else "U": items}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at {path} in a training state")


def decode_state(node: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of `encode_state`."""
    if isinstance(node, dict):
        if "T" in node:
            return tensors[node["T"]]
        if "A" in node:
            return tensors[node["A"]].numpy().astype(node["dtype"])
        if "D" in node:
            return {decode_state(k, tensors): decode_state(v, tensors) for k, v in node["D"]}
        if "L" in node:
            return [decode_state(v, tensors) for v in node["L"]]
        if "U" in node:
            return tuple(decode_state(v, tensors) for v in node["U"])
        raise ValueError(f"unknown node {sorted(node)} in a training state")
    return node


# --- the two files ----------------------------------------------------------------------------------------

def _save_safetensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    flat = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    atomic_write(path, safetensors_bytes(flat, metadata=metadata))


def _read_safetensors(path: Path, tensors: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, metadata); `tensors=False` reads the header alone and gives no tensors."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()} if tensors else {}, dict(f.metadata() or {})
    except Exception as e:  # safetensors raises its own error types for damaged headers
        raise InfoswapError(f"{path}: not a readable safetensors file ({e})") from None


def write_network_snapshot(path: Path, groups: dict[str, dict[str, torch.Tensor]], config: dict,
                           metadata: dict[str, str] | None = None) -> None:
    """Inference weights: each group's tensors under "<group>.<name>"; `config` (asdict of the model
    config) as JSON in the metadata."""
    flat = {f"{g}.{name}": t for g, state in groups.items() for name, t in state.items()}
    meta = {"format": NETWORK_FORMAT, "groups": json.dumps(sorted(groups)), "config": json.dumps(config)}
    meta.update(metadata or {})
    _save_safetensors(Path(path), flat, meta)


def _network_snapshot(path: Path, tensors: bool) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    found, meta = _read_safetensors(Path(path), tensors)
    if meta.get("format") != NETWORK_FORMAT:
        raise InfoswapError(f"{path}: not an infoswap network snapshot (format {meta.get('format')!r})")
    return found, meta


def read_network_config(path: Path) -> dict:
    """The model config dict of a network snapshot, from its header: no weight is read."""
    return json.loads(_network_snapshot(path, tensors=False)[1]["config"])


def read_network_snapshot(path: Path) -> tuple[dict[str, dict[str, torch.Tensor]], dict, dict[str, str]]:
    """(groups, model config dict, metadata) from a network snapshot."""
    tensors, meta = _network_snapshot(path, tensors=True)
    groups: dict[str, dict[str, torch.Tensor]] = {g: {} for g in json.loads(meta["groups"])}
    for key, t in tensors.items():
        group, name = key.split(".", 1)
        groups[group][name] = t
    return groups, json.loads(meta["config"]), meta


def write_training_state(path: Path, state: dict) -> None:
    tensors: dict[str, torch.Tensor] = {}
    structure = encode_state(state, tensors)
    _save_safetensors(Path(path), tensors, {"format": STATE_FORMAT, "structure": json.dumps(structure)})


def read_training_state(path: Path) -> dict:
    tensors, meta = _read_safetensors(Path(path))
    if meta.get("format") != STATE_FORMAT:
        raise InfoswapError(f"{path}: not an infoswap training state (format {meta.get('format')!r})")
    return decode_state(json.loads(meta["structure"]), tensors)


# --- complete checkpoints -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Checkpoint:
    step: int
    network: Path
    state: Path
    marker: Path


def save_checkpoint(run_dir: Path, step: int, groups: dict[str, dict[str, torch.Tensor]], config: dict,
                    state: dict, metadata: dict[str, str] | None = None, keep: int = 0) -> Checkpoint:
    """Writes both files, then the marker that makes them a checkpoint; prunes to the newest `keep` (0: all)."""
    run_dir = Path(run_dir)
    network, training = run_dir / network_name(step), run_dir / state_name(step)
    write_network_snapshot(network, groups, config, metadata)
    write_training_state(training, state)
    marker = run_dir / marker_name(step)
    record = {"step": step,
              "network": {"file": network.name, "sha256": sha256_file(network)},
              "state": {"file": training.name, "sha256": sha256_file(training)}}
    atomic_write_text(marker, json.dumps(record, indent=1) + "\n")
    if keep > 0:
        prune(run_dir, keep)
    return Checkpoint(step, network, training, marker)


def _verified(marker: Path) -> Checkpoint | None:
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
        step = int(record["step"])
        files = []
        for role, expected in (("network", network_name(step)), ("state", state_name(step))):
            entry = record[role]
            if entry["file"] != expected:  # also rules out temp files and paths outside the folder
                return None
            path = marker.parent / expected
            if not path.is_file() or sha256_file(path) != entry["sha256"]:
                return None
            files.append(path)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Checkpoint(step, files[0], files[1], marker)


def _markers(run_dir: Path) -> list[tuple[int, Path]]:
    found = []
    for p in Path(run_dir).iterdir():
        m = _MARKER.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    return sorted(found, reverse=True)


def latest_complete(run_dir: Path) -> Checkpoint | None:
    """The newest checkpoint whose marker parses and whose two files match their hashes; None if none."""
    for _, marker in _markers(run_dir):
        checkpoint = _verified(marker)
        if checkpoint is not None:
            return checkpoint
    return None


def prune(run_dir: Path, keep: int) -> None:
    """Deletes all but the newest `keep` checkpoints (marker first, so a crash mid-way leaves no false one)."""
    for step, marker in _markers(run_dir)[keep:]:
        marker.unlink(missing_ok=True)
        for name in (network_name(step), state_name(step)):
            (Path(run_dir) / name).unlink(missing_ok=True)
