"""FID and KID of a manifest's swaps against its real targets (issue 9), from FID Inception-v3 features.

The two sets are the distinct images named in the manifest's `swap` column and in its `target` column; an
image named in both is run once. Whole images, not face crops (as FID is used everywhere), each resized on
its own to 299×299 the way pytorch-fid's network resizes, then run through the network in batches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from infoswap.evaluate.distribution import fid, kid
from infoswap.evaluate.inception import FIDInception, resize_to_input
from infoswap.evaluate.manifest import SwapPair
from infoswap.io.images import read_image

FID_NOTE = ("FID/KID not computed: pass --inception WEIGHTS.safetensors (FID Inception-v3, converted with "
            "`infoswap convert pt_inception-2015-12-05-6726825d.pth --arch inception --out WEIGHTS.safetensors`)")
FIDKID_DEFINITIONS = {
    "fid": "Frechet distance of Gaussians fitted to FID Inception-v3 pool3 features, swaps vs targets (whole images)",
    "kid": "unbiased squared MMD, cubic polynomial kernel, same features; mean over 100 subsets of up to 1000",
    "kid_std": "standard deviation of KID over those subsets",
}
SMALL_SET = 50  # below this many images per set FID says more about the set size than about the images
BATCH = 16


@dataclass(frozen=True)
class FidKid:
    """The scores (None when a set has fewer than 2 images), the set sizes, and what to keep in mind."""

    fid: float | None
    kid: float | None
    kid_std: float | None
    swaps: int
    targets: int
    notes: tuple[str, ...]

    def fields(self) -> dict:
        return {"fid": self.fid, "kid": self.kid, "kid_std": self.kid_std,
                "fid_kid_images": {"swap": self.swaps, "target": self.targets}}


def distinct_images(pairs: list[SwapPair]) -> tuple[list[Path], list[Path]]:
    """(distinct swap images, distinct target images), in manifest order."""
    return list(dict.fromkeys(p.swap for p in pairs)), list(dict.fromkeys(p.target for p in pairs))


def inception_features(paths: list[Path], net: FIDInception, on_image: Callable[[Path], None] | None = None,
                       batch: int = BATCH) -> np.ndarray:
    """Pool3 features (N, 2048) of the images at `paths`, float64."""
    features, pending = [], []
    for i, path in enumerate(paths):
        pixels = torch.from_numpy(read_image(path).pixels).permute(2, 0, 1)[None].float() / 255  # (1, 3, H, W)
        pending.append(resize_to_input(pixels))
        if len(pending) == batch or i == len(paths) - 1:
            with torch.inference_mode():
                features.append(net(torch.cat(pending)).double().numpy())
            pending = []
        if on_image is not None:
            on_image(path)
    return np.concatenate(features)


def fid_kid_of(pairs: list[SwapPair], net: FIDInception, on_image: Callable[[Path], None] | None = None) -> FidKid:
    """FID and KID (mean and spread over 100 subsets of up to 1000 images) of swaps vs targets."""
    swaps, targets = distinct_images(pairs)
    smaller = min(len(swaps), len(targets))
    if smaller < 2:
        note = f"FID/KID need at least 2 distinct swap and 2 distinct target images; the manifest has " \
               f"{len(swaps)} and {len(targets)}"
        return FidKid(None, None, None, len(swaps), len(targets), (note,))
    paths = list(dict.fromkeys(swaps + targets))
    features = dict(zip(paths, inception_features(paths, net, on_image)))
    a, b = np.stack([features[p] for p in swaps]), np.stack([features[p] for p in targets])
    notes = ()
    if smaller < SMALL_SET:
        notes = (f"FID/KID from {len(swaps)} swap and {len(targets)} target images: at this size FID is strongly "
                 "biased upward (it needs thousands of images); KID is unbiased, read it instead",)
    kid_mean, kid_std = kid(a, b)
    return FidKid(fid(a, b), kid_mean, kid_std, len(swaps), len(targets), notes)
