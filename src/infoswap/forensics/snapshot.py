"""Detector checkpoints through the training checkpoint code (`infoswap.train.checkpoint`), and loading them back.

A detector run folder holds the same files as an InfoSwap run: network snapshot (group "detector", the
DetectorConfig in the metadata, `kind` naming it a detector), training state, marker. `--detector` takes
the folder (its newest complete checkpoint) or one snapshot file; anything else is refused in one line,
before any parser sees it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch

from infoswap.errors import InfoswapError
from infoswap.forensics.detector import DetectorConfig, ForgeryDetector
from infoswap.train import checkpoint as ckpt
from infoswap.weights.store import require_finite

KIND = "infoswap-forgery-detector/1"
GROUP = "detector"


@dataclass
class LoadedDetector:
    model: ForgeryDetector  # eval mode, no gradients, on its device
    path: Path  # the snapshot file
    step: int
    metadata: dict[str, str]

    @property
    def name(self) -> str:
        """How tables name it: the run folder (a snapshot named like the checkpoint code's) or the file stem."""
        if self.path.name == ckpt.network_name(self.step):
            return self.path.parent.name
        return self.path.stem


def resolve_detector(path: Path) -> Path:
    """The snapshot file meant by a run folder or a file, checked to look like safetensors."""
    from infoswap.swap.pretrained import check_safetensors_header

    path = Path(path)
    if path.is_dir():
        found = ckpt.latest_complete(path)
        if found is None:
            raise InfoswapError(f"--detector {path}: folder holds no complete checkpoint (train one with "
                                "`infoswap forensics train`)")
        path = found.network
    elif not path.is_file():
        raise InfoswapError(f"--detector {path}: no such file or folder")
    check_safetensors_header(path)
    return path


def save_detector(run_dir: Path, step: int, model: ForgeryDetector, state: dict, metadata: dict[str, str],
                  keep: int = 2) -> ckpt.Checkpoint:
    """A complete checkpoint of `model` at `step` with its training `state`; keeps the newest `keep`."""
    meta = {"kind": KIND, "step": str(step), **metadata}
    return ckpt.save_checkpoint(run_dir, step, {GROUP: model.state_dict()}, asdict(model.cfg), state, meta, keep=keep)


def load_detector(path: Path, device: str | torch.device = "cpu") -> LoadedDetector:
    """The detector in a run folder or snapshot file, ready for inference; InfoswapError for anything else."""
    path = resolve_detector(path)
    groups, config, meta = ckpt.read_network_snapshot(path)
    if meta.get("kind") != KIND or GROUP not in groups:
        raise InfoswapError(f"--detector {path}: not a forgery detector (it holds {', '.join(sorted(groups))} "
                            "weights); train one with `infoswap forensics train`")
    known = {f.name for f in fields(DetectorConfig)}
    if set(config) != known:
        raise InfoswapError(f"--detector {path}: its config has fields {sorted(config)}, expected {sorted(known)}")
    cfg = DetectorConfig(**config)
    if cfg.problem():
        raise InfoswapError(f"--detector {path}: its config does not build a detector ({cfg.problem()})")
    require_finite(groups[GROUP], f"--detector {path}")
    model = ForgeryDetector(cfg)
    try:
        model.load_state_dict(groups[GROUP])
    except RuntimeError as e:
        first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
        raise InfoswapError(f"--detector {path}: weights do not fit its config ({first})") from None
    return LoadedDetector(model.to(device).eval().requires_grad_(False), path, int(meta.get("step", 0)), meta)
