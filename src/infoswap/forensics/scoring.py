"""A detector on one split of a set: the fake probability of every crop, and the four metrics of them."""

from __future__ import annotations

import numpy as np
import torch

from infoswap.forensics.crops import read_crops
from infoswap.forensics.data import to_tensor
from infoswap.forensics.manifest import LabelledSet, SetRow
from infoswap.forensics.metrics import detection_metrics
from infoswap.forensics.snapshot import LoadedDetector

BATCH = 64


def fake_probabilities(detector: LoadedDetector, data: LabelledSet, rows: list[SetRow]) -> np.ndarray:
    """σ(logit) for each row's crop, (N,) float64."""
    device = next(detector.model.parameters()).device
    size = detector.model.cfg.size
    out = []
    with torch.inference_mode():
        for start in range(0, len(rows), BATCH):
            pixels = read_crops([data.file(r) for r in rows[start : start + BATCH]], size)
            out.append(torch.sigmoid(detector.model(to_tensor(pixels).to(device))).double().cpu())
    return torch.cat(out).numpy()


def score(detector: LoadedDetector, data: LabelledSet, split: str) -> dict:
    """{"auc", "ap", "f1", "mse"} plus what was scored: counts, split, set, method and detector."""
    rows = data.usable(split)
    probabilities = fake_probabilities(detector, data, rows)
    labels = np.array([r.is_fake for r in rows])
    return {
        **detection_metrics(labels, probabilities),
        "split": split,
        "real": int((labels == 0).sum()),
        "fake": int(labels.sum()),
        "identities": len({r.identity for r in rows if r.identity}),
        "set": str(data.csv),
        "method": data.info.get("label") or data.name,
        "detector": str(detector.path),
        "detector_step": detector.step,
    }
