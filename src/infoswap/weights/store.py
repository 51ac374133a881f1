"""Safetensors files for the shipped face networks, kept quantised, verified by sha256 on load.

A file holds, under each PyTorch parameter name, either float32 values or uint8/uint16 integers whose
affine pair (scale, min) sits in the file's metadata; `load_state` returns float32 tensors either way.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import load as load_numpy
from safetensors.numpy import save as save_numpy

from infoswap.errors import InfoswapError
from infoswap.weights.tfjs import TfjsTensor

SHIPPED_DIR = Path(__file__).parent / "data"
CHECKSUMS = SHIPPED_DIR / "SHA256SUMS"
_QUANT_KEY = "infoswap.quantisation"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_state(path: Path, tensors: dict[str, TfjsTensor], metadata: dict[str, str]) -> None:
    """Writes `tensors` (PyTorch names, PyTorch layout) atomically, keeping quantised values quantised."""
    quant = {k: [t.scale, t.minimum] for k, t in tensors.items() if t.quantised}
    meta = dict(metadata, **{_QUANT_KEY: json.dumps(quant)})
    data = save_numpy({k: np.require(t.values, requirements="C") for k, t in tensors.items()}, metadata=meta)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(canonical_header(data))
    tmp.replace(path)


def canonical_header(data: bytes) -> bytes:
    """Rewrites a safetensors header with sorted keys: safetensors orders metadata differently in every
    process, and the shipped files' checksums must not depend on that."""
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data section stays 8-byte aligned
    return len(text).to_bytes(8, "little") + text + data[8 + length :]


def read_checksums(sums: Path = CHECKSUMS) -> dict[str, str]:
    """{file name: sha256} of a SHA256SUMS file; empty when it does not exist."""
    if not sums.exists():
        return {}
    pairs = (line.split() for line in sums.read_text().splitlines() if line.strip())
    return {name: digest for digest, name in pairs}


def record_checksum(path: Path, sums: Path = CHECKSUMS) -> None:
    """Sets `path`'s line in a SHA256SUMS file, keeping every other line; lines sorted by file name."""
    entries = read_checksums(sums)
    entries[path.name] = sha256_of(path)
    sums.write_text("".join(f"{entries[name]}  {name}\n" for name in sorted(entries)))


@lru_cache(maxsize=None)
def _expected_checksums() -> dict[str, str]:
    return read_checksums(CHECKSUMS)


def shipped_path(filename: str) -> Path:
    """Path of a weights file that ships in the package; a missing or altered file is an InfoswapError."""
    path = SHIPPED_DIR / filename
    if not path.exists():
        raise InfoswapError(f"weights file {path} is missing; reinstall infoswap or run tools/convert_faceapi.py")
    expected = _expected_checksums().get(filename)
    if expected is None:
        raise InfoswapError(f"weights file {filename} has no checksum in {CHECKSUMS}")
    actual = sha256_of(path)
    if actual != expected:
        raise InfoswapError(f"weights file {path} is corrupted: sha256 {actual[:12]}… expected {expected[:12]}…")
    return path


def load_state(path: Path) -> dict[str, torch.Tensor]:
    """Reads a safetensors file and returns float32 tensors by name (quantised entries dequantised)."""
    try:
        raw_bytes = path.read_bytes()
        arrays = load_numpy(raw_bytes)
        header_len = int.from_bytes(raw_bytes[:8], "little")
        header = json.loads(raw_bytes[8 : 8 + header_len])
    except (SafetensorError, ValueError, OSError) as e:
        raise InfoswapError(f"weights file {path} is not a readable safetensors file ({e})") from None
    quant = json.loads(header.get("__metadata__", {}).get(_QUANT_KEY, "{}"))
    state = {}
    for name, values in arrays.items():
        t = TfjsTensor(values, *quant[name]) if name in quant else TfjsTensor(values)
        state[name] = torch.from_numpy(t.dequantise())
    return state


def load_into(module: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Strict load whose error names the missing, unexpected or mis-shaped keys and the file."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mis_shaped = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    problems = []
    if missing:
        problems.append(f"missing keys {missing[:5]}{'…' if len(missing) > 5 else ''}")
    if unexpected:
        problems.append(f"unexpected keys {unexpected[:5]}{'…' if len(unexpected) > 5 else ''}")
    if mis_shaped:
        k = mis_shaped[0]
        problems.append(f"shape mismatch for {k}: file {tuple(state[k].shape)}, model {tuple(own[k].shape)}")
    if problems:
        raise InfoswapError(f"weights in {source} do not fit {type(module).__name__}: " + "; ".join(problems))
    module.load_state_dict(state, strict=True)


def require_finite(state: dict[str, torch.Tensor], source: str) -> None:
    """Refuses weights holding NaN or inf (a diverged run, a damaged file): a model built from them would
    quietly write garbage. The error names the file and the first bad tensor."""
    for name, t in state.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise InfoswapError(f"{source}: tensor {name} holds non-finite values (NaN or inf); the weights are "
                                "damaged or come from a diverged run")


def load_shipped(module: torch.nn.Module, filename: str) -> torch.nn.Module:
    """Loads a shipped, checksum-verified weights file into `module` (strictly) and returns it in eval mode."""
    path = shipped_path(filename)
    load_into(module, load_state(path), str(path))
    return module.eval().requires_grad_(False)
