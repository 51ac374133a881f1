"""MobileFace identification V2 (becauseofAI/MobileFace, MIT): a second recogniser for the identity loss.

A MobileNet-v2 style net at 112 × 112 (Sandler et al. 2018, expansion 3): a 3×3/2 stem, four stages of
one stride-2 bottleneck and two residual ones (32, 32, 64, 128 channels), then the 128 × 4 × 4 map
flattened into a 256-D fully connected layer, L2-normalised. BGR input, (x − 127.5) / 128. Each batch
norm (MXNet's epsilon, 1e-3) is folded into the conv or linear layer before it when converting, so the
net has no running statistics to update. Its weights come from another family than dlib's, so swaps
cannot meet an identity loss over both with what one of them alone reads as identity (docs/training.md).
Never the evaluation's recogniser: faceres judges.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from infoswap.recognition.base import Recognizer

INPUT_SIZE = 112
EMBEDDING_DIM = 256
EXPANSION = 3
BN_EPS = 1e-3  # MXNet's default; the checkpoint's BatchNorm nodes set none
# (input channels, output channels) of each stage's first, stride-2 bottleneck; two residual ones follow.
STAGES = ((32, 32), (32, 32), (32, 64), (64, 128))
WEIGHTS = "mobileface.safetensors"
# Box of our aligned face the net sees: insightface's 112 template (as irse50.CROPS[112]), the alignment of
# the LFW-Aligned faces MobileFace reports on. On the 32 bundled identity faces: same/different AUC 1.0,
# mean cosine 0.84 for the same person and 0.05 for different people (dlib: 0.98 and 0.83).
CROP = (0.12906, 0.12280, 0.87284, 0.86658)


def _conv(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, relu: bool = True) -> nn.Module:
    conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups)
    return nn.Sequential(conv, nn.ReLU6()) if relu else nn.Sequential(conv)


class Bottleneck(nn.Module):
    """1×1 expansion, 3×3 depthwise, linear 1×1 projection; residual when the stride is 1."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        wide = cin * EXPANSION
        self.residual = stride == 1 and cin == cout
        self.body = nn.Sequential(_conv(cin, wide, 1), _conv(wide, wide, 3, stride, groups=wide),
                                  _conv(wide, cout, 1, relu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


class MobileFace(Recognizer):
    name = "mobileface"
    embedding_dim = EMBEDDING_DIM
    input_size = INPUT_SIZE
    crop = CROP
    taps = ()  # an identity judge only: no IIB reads its maps

    def __init__(self):
        super().__init__()
        self.stem = _conv(3, 32, 3, 2)
        self.blocks = nn.ModuleList(
            block for cin, cout in STAGES
            for block in (Bottleneck(cin, cout, 2), Bottleneck(cout, cout, 1), Bottleneck(cout, cout, 1))
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(128 * 4 * 4, EMBEDDING_DIM))

    def to_network_input(self, faces: torch.Tensor) -> torch.Tensor:
        """Aligned RGB faces (B, 3, H, W) in [-1, 1] -> BGR (B, 3, 112, 112) as (pixels − 127.5) / 128."""
        return self.crop_and_resize(faces).flip(1) * (127.5 / 128)


def mxnet_layers(model: MobileFace) -> list[tuple[nn.Module, str, str]]:
    """(layer, MXNet layer name, MXNet name of the batch norm after it) for every conv and linear layer, in
    graph order: `conv1` + `bn1` the stem, `convolution{k}` + `batchnorm{k}` for k = 0 … 35, `fc5` + `fc5_bn`."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    inner = range(len(layers) - 2)
    names = ["conv1", *(f"convolution{k}" for k in inner), "fc5"]
    norms = ["bn1", *(f"batchnorm{k}" for k in inner), "fc5_bn"]
    return list(zip(layers, names, norms, strict=True))


def convert(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """MXNet parameters -> this module's state dict, each batch norm folded into its layer (`mxnet_layers`;
    the stem's conv alone has a bias). Every parameter must be used."""
    model = MobileFace()
    prefixes = {id(m): name for name, m in model.named_modules()}
    state, used = {}, set()
    for layer, name, norm in mxnet_layers(model):
        weight = params[f"{name}_weight"].astype(np.float64)
        if weight.shape != tuple(layer.weight.shape):
            raise ValueError(f"{name}_weight: shape {weight.shape}, expected {tuple(layer.weight.shape)}")
        bias = params[f"{name}_bias"].astype(np.float64) if f"{name}_bias" in params else 0.0
        norm_keys = [f"{norm}_{k}" for k in ("gamma", "beta", "moving_mean", "moving_var")]
        gamma, beta, mean, var = (params[k].astype(np.float64) for k in norm_keys)
        scale = gamma / np.sqrt(var + BN_EPS)
        prefix = prefixes[id(layer)]
        state[f"{prefix}.weight"] = (weight * scale.reshape(-1, *[1] * (weight.ndim - 1))).astype(np.float32)
        state[f"{prefix}.bias"] = ((bias - mean) * scale + beta).astype(np.float32)
        used |= {f"{name}_weight", f"{name}_bias", *norm_keys}
    if set(params) - used:
        raise ValueError(f"MXNet parameters left unused: {sorted(set(params) - used)}")
    return state


def build() -> MobileFace:
    """The shipped weights (sha256-checked); a judge has no user weights (`registry.load_identity_judge`)."""
    from infoswap.weights.store import load_shipped

    return load_shipped(MobileFace(), WEIGHTS)
