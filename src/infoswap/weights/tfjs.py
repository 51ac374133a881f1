"""Reads tfjs layers-format weights (a `*-weights_manifest.json` plus its `.bin` shards).

tfjs stores each tensor in TensorFlow layout, optionally uint8/uint16-quantised with one affine pair per
tensor: value = q * scale + min. We keep the quantised integers so that converted files stay as small as
the originals and dequantise exactly as tfjs does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_PLAIN_DTYPES = {"float32": np.float32, "int32": np.int32}
# Stored dtype of a quantised tensor; float16 has no affine pair, uint8/uint16 have (scale, min).
_STORED_DTYPES = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}


@dataclass
class TfjsTensor:
    """One stored tensor: raw values (quantised integers or plain floats) and its affine quantisation."""

    values: np.ndarray
    scale: float | None = None
    minimum: float | None = None

    @property
    def quantised(self) -> bool:
        return self.scale is not None

    def dequantise(self) -> np.ndarray:
        if not self.quantised:
            return self.values.astype(np.float32)
        # Same arithmetic as tfjs (float32 multiply-add), so ports match the original bit for bit.
        return self.values.astype(np.float32) * np.float32(self.scale) + np.float32(self.minimum)

    def transposed(self, axes: tuple[int, ...]) -> "TfjsTensor":
        return TfjsTensor(np.ascontiguousarray(self.values.transpose(axes)), self.scale, self.minimum)

    def reshaped(self, shape: tuple[int, ...]) -> "TfjsTensor":
        return TfjsTensor(np.ascontiguousarray(self.values.reshape(shape)), self.scale, self.minimum)


def read_weight_groups(groups: list[dict], folder: Path, label: str) -> dict[str, TfjsTensor]:
    """Every tensor of tfjs manifest `groups` (shards read from `folder`) by name, in manifest order."""
    tensors: dict[str, TfjsTensor] = {}
    for group in groups:
        buffer = b"".join((folder / shard).read_bytes() for shard in group["paths"])
        offset = 0
        for spec in group["weights"]:
            count = int(np.prod(spec["shape"], dtype=np.int64))
            quant = spec.get("quantization")
            dtype = _STORED_DTYPES[quant["dtype"]] if quant else _PLAIN_DTYPES[spec["dtype"]]
            nbytes = count * np.dtype(dtype).itemsize
            if offset + nbytes > len(buffer):
                raise ValueError(f"{label}: shards end before tensor {spec['name']!r}")
            values = np.frombuffer(buffer, dtype=dtype, count=count, offset=offset).reshape(spec["shape"])
            offset += nbytes
            affine = quant is not None and "scale" in quant
            tensors[spec["name"]] = TfjsTensor(
                values.copy(),
                scale=quant["scale"] if affine else None,
                minimum=quant["min"] if affine else None,
            )
        if offset != len(buffer):
            raise ValueError(f"{label}: {len(buffer) - offset} unread bytes after the last tensor")
    return tensors


def read_tfjs_weights(manifest_path: str | Path) -> dict[str, TfjsTensor]:
    """Returns every tensor of a tfjs weights manifest by its tfjs name, in manifest order."""
    manifest_path = Path(manifest_path)
    return read_weight_groups(json.loads(manifest_path.read_text()), manifest_path.parent, manifest_path.name)


def conv2d_kernel(t: TfjsTensor) -> TfjsTensor:
    """TensorFlow (H, W, in, out) -> PyTorch (out, in, H, W)."""
    return t.transposed((3, 2, 0, 1))


def depthwise_kernel(t: TfjsTensor) -> TfjsTensor:
    """TensorFlow depthwise (H, W, C, 1) -> PyTorch grouped conv (C, 1, H, W)."""
    return t.transposed((2, 3, 0, 1))
