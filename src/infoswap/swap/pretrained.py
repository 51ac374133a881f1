"""A checkpoint name or path -> a ready InfoSwap generator, refusing anything that is not what it claims.

Only network snapshots written by `infoswap.train.checkpoint` load: safetensors (checked by its header
before any parser sees the file, so a pickle is named as such and never unpickled), with the model config
in the metadata (which rebuilds the model) and the calibrated tap statistics inside the IIB's buffers.
The EMA generator is used when the snapshot has one. The demo checkpoint that ships with the package
lives beside the face networks in `infoswap/weights/data/` and is verified against their SHA256SUMS.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from infoswap.errors import InfoswapError
from infoswap.weights.store import SHIPPED_DIR, shipped_path

if TYPE_CHECKING:
    import torch

    from infoswap.model.infoswap import InfoSwap

# The demo checkpoint that ships with the package (issue 10); "default" and None both mean it.
DEMO_CHECKPOINT = "infoswap-demo-128.safetensors"
_HEADER_LIMIT = 100_000_000  # safetensors' own cap on the JSON header


def demo_checkpoint_path() -> Path:
    return SHIPPED_DIR / DEMO_CHECKPOINT


def resolve_checkpoint(path_or_name: str | Path | None) -> Path:
    """The snapshot file meant by a path, a run folder (its newest complete checkpoint) or None/"default"."""
    from infoswap.train.checkpoint import latest_complete

    if path_or_name is None or str(path_or_name) == "default":
        path = demo_checkpoint_path()
        if not path.is_file():
            raise InfoswapError(f"the demo checkpoint {DEMO_CHECKPOINT} is not installed in this copy of infoswap; "
                                "pass a trained network snapshot with --checkpoint")
        return shipped_path(path.name)  # checked against weights/data/SHA256SUMS like every shipped file
    path = Path(path_or_name)
    if path.is_dir():
        found = latest_complete(path)
        if found is None:
            raise InfoswapError(f"{path}: folder holds no complete checkpoint (network-snapshot-*.safetensors "
                                "with its checkpoint-*.json)")
        return found.network
    if not path.exists():
        raise InfoswapError(f"{path}: no such checkpoint file")
    return path


def check_safetensors_header(path: Path) -> None:
    """Raises unless the file starts like safetensors: an 8-byte little-endian length, then a JSON object."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError as e:
        raise InfoswapError(f"{path}: cannot read checkpoint ({e.strerror})") from None
    length = int.from_bytes(head[:8], "little") if len(head) == 9 else 0
    if not (2 <= length <= min(size - 8, _HEADER_LIMIT)) or head[8:9] != b"{":
        kind = ""
        if head[:4] == b"PK\x03\x04" or head[:1] == b"\x80":
            kind = " (it looks like a PyTorch pickle: convert the weights to safetensors first)"
        raise InfoswapError(f"{path}: not a safetensors file; infoswap never unpickles weights{kind}")


def load_generator(path_or_name: str | Path | None = None, *, preset: int | None = None,
                   recognizer: str | None = None, device: str | torch.device = "cpu") -> tuple[InfoSwap, Path]:
    """(InfoSwap in eval mode on `device`, the snapshot's path); `preset` / `recognizer`, when given, must
    match the checkpoint's."""
    from infoswap.config import ModelConfig
    from infoswap.model.infoswap import InfoSwap
    from infoswap.recognition.registry import load_recognizer
    from infoswap.train.checkpoint import read_network_snapshot
    from infoswap.weights.store import load_into, require_finite

    path = resolve_checkpoint(path_or_name)
    check_safetensors_header(path)
    groups, config, _ = read_network_snapshot(path)
    try:
        cfg = ModelConfig.from_dict(config)
    except (InfoswapError, TypeError, ValueError) as e:
        raise InfoswapError(f"{path}: its model config does not load ({e})") from None
    if preset is not None and cfg.resolution != preset:
        raise InfoswapError(f"{path}: checkpoint is for the {cfg.resolution} px preset, not {preset}")
    if recognizer is not None and cfg.recognizer != recognizer:
        raise InfoswapError(f"{path}: checkpoint was trained with the {cfg.recognizer!r} recogniser, "
                            f"not {recognizer!r}")
    state = groups.get("ema") or groups.get("model")
    if not state:
        raise InfoswapError(f"{path}: snapshot holds no generator weights (no 'model' or 'ema' group)")
    require_finite(state, str(path))
    model = InfoSwap(cfg, load_recognizer(cfg.recognizer))
    load_into(model, state, str(path))  # strict; the error names missing, unexpected and mis-shaped keys
    return model.to(device).eval().requires_grad_(False), path

