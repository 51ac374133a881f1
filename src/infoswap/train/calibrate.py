"""Element-wise statistics of the recogniser's 10 taps over N aligned faces (App. 1.1; SPEC section 4).

µ_Ri, σ_Ri feed the IIB's standardisation and noise ε_i ~ N(µ, σ²); the share of faces on which each
element is non-zero marks dead units. The mean embedding lets training centre identity cosines
(`ModelConfig.identity_centre`). Streaming: per-batch float64 moments are merged into running ones
(Chan et al.'s parallel update), so memory depends on the tap shapes, never on N.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes
from tqdm import tqdm

from infoswap.errors import InfoswapError
from infoswap.recognition.base import Recognizer
from infoswap.train.checkpoint import atomic_write
from infoswap.train.data import index_faces, load_face

FORMAT = "infoswap-tap-statistics/1"


@dataclass
class TapStatistics:
    """Per tap i: mean, std and active share, each shaped like R_i without the batch axis (C, H, W)."""

    mean: list[torch.Tensor]
    std: list[torch.Tensor]
    active: list[torch.Tensor]
    recognizer: str
    resolution: int
    count: int
    identity_mean: torch.Tensor | None = None  # mean embedding f(x) (D,); None in files made before it


class RunningMoments:
    """Running count, mean and sum of squared deviations (float64) of a stream of (B, …) batches."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: torch.Tensor | None = None
        self.m2: torch.Tensor | None = None
        self.nonzero: torch.Tensor | None = None

    def update(self, batch: torch.Tensor) -> None:
        x = batch.detach().to(torch.float64)
        n = x.shape[0]
        batch_mean = x.mean(0)
        batch_m2 = ((x - batch_mean) ** 2).sum(0)
        nonzero = (x != 0).sum(0, dtype=torch.float64)
        if self.mean is None:
            self.mean, self.m2, self.nonzero = batch_mean, batch_m2, nonzero
        else:
            total = self.count + n
            delta = batch_mean - self.mean
            self.mean = self.mean + delta * (n / total)
            self.m2 = self.m2 + batch_m2 + delta**2 * (self.count * n / total)
            self.nonzero = self.nonzero + nonzero
        self.count += n

    def result(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mean, population std, share non-zero) as float32."""
        return (self.mean.float(), (self.m2 / self.count).sqrt().float(), (self.nonzero / self.count).float())


@torch.no_grad()
def tap_statistics(batches: Iterable[torch.Tensor], recognizer: Recognizer, resolution: int,
                   recognizer_name: str) -> TapStatistics:
    """Streams aligned faces (B, 3, R, R) in [-1, 1] through the frozen recogniser's taps."""
    moments: list[RunningMoments] = []
    identity = RunningMoments()
    for faces in batches:
        z_id, taps = recognizer.features(faces)
        if not moments:
            moments = [RunningMoments() for _ in taps]
        for running, r in zip(moments, taps):
            running.update(r)
        identity.update(z_id)
    if not moments:
        raise InfoswapError("calibration saw no faces")
    mean, std, active = zip(*(m.result() for m in moments))
    return TapStatistics(list(mean), list(std), list(active), recognizer_name, resolution, moments[0].count,
                         identity.result()[0])


def calibrate_folder(data: Path, recognizer: Recognizer, recognizer_name: str, resolution: int, num: int,
                     batch: int = 16, device: torch.device | str = "cpu", progress: bool = True,
                     seed: int = 0) -> TapStatistics:
    """Statistics over min(num, available) faces of an aligned folder, a seeded random subset."""
    index = index_faces(data)
    order = torch.randperm(len(index), generator=torch.Generator().manual_seed(seed))[:num].tolist()
    files = [index.files[i] for i in order]
    bar = tqdm(total=len(files), desc="calibrate", unit="face", disable=not progress)

    def batches() -> Iterable[torch.Tensor]:
        for start in range(0, len(files), batch):
            chunk = files[start:start + batch]
            yield torch.stack([load_face(p, resolution) for p in chunk]).to(device)
            bar.update(len(chunk))

    try:
        return tap_statistics(batches(), recognizer.to(device), resolution, recognizer_name)
    finally:
        bar.close()


def save_statistics(path: Path, stats: TapStatistics) -> None:
    tensors = {}
    for name, values in (("mean", stats.mean), ("std", stats.std), ("active", stats.active)):
        tensors.update({f"{name}.{i}": t.detach().cpu().contiguous() for i, t in enumerate(values)})
    if stats.identity_mean is not None:
        tensors["identity_mean"] = stats.identity_mean.detach().cpu().contiguous()
    metadata = {"format": FORMAT, "recognizer": stats.recognizer, "resolution": str(stats.resolution),
                "count": str(stats.count), "taps": json.dumps([list(t.shape) for t in stats.mean])}
    atomic_write(Path(path), safetensors_bytes(tensors, metadata=metadata))


def load_statistics(path: Path, recognizer: str | None = None, resolution: int | None = None) -> TapStatistics:
    """Reads statistics; refuses (InfoswapError) ones made for another recogniser or resolution."""
    path = Path(path)
    if not path.is_file():
        raise InfoswapError(f"--stats {path}: no such file")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types for damaged files
        raise InfoswapError(f"--stats {path}: not a readable safetensors file ({e})") from None
    if meta.get("format") != FORMAT:
        raise InfoswapError(f"--stats {path}: not tap statistics from `infoswap calibrate`")
    made_for, made_at = meta["recognizer"], int(meta["resolution"])
    fix = (f"; make matching ones with `infoswap calibrate --recognizer {recognizer or made_for} "
           f"--size {resolution or made_at}`")
    if recognizer is not None and made_for != recognizer:
        raise InfoswapError(f"--stats {path}: made for recogniser {made_for!r}, but this run uses {recognizer!r}{fix}")
    if resolution is not None and made_at != resolution:
        raise InfoswapError(f"--stats {path}: made at resolution {made_at}, but this run uses {resolution}{fix}")
    m = len(json.loads(meta["taps"]))
    return TapStatistics([tensors[f"mean.{i}"] for i in range(m)], [tensors[f"std.{i}"] for i in range(m)],
                         [tensors[f"active.{i}"] for i in range(m)], made_for, made_at, int(meta["count"]),
                         tensors.get("identity_mean"))
