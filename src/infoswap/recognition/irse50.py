"""ArcFace ResNet-50 recognisers (SPEC section 3): IR-SE-50, the paper's f, and insightface's iresnet50.

Two public checkpoint layouts, two different nets that share the stage plan, the taps and the input
handling; module names match each layout's state_dict keys so a converted checkpoint loads without renames.
- `irse50`: TreB1eN/InsightFace_Pytorch `Backbone(50, ·, 'ir_se')` (`model_ir_se50.pth`) and the official
  InfoSwap release's 128 × 128 variant: `input_layer`, `body.<n>` units (`shortcut_layer`, `res_layer` with
  squeeze-excitation), `output_layer`. Trained on BGR images: that repository unpacks the MXNet records
  with OpenCV (BGR) and saves them unchanged, and its camera demo feeds OpenCV frames as they come; the
  official InfoSwap inference also feeds `cv2.imread` pixels.
- `iresnet50`: deepinsight/insightface `recognition/arcface_torch` (`conv1`, `bn1`, `prelu`,
  `layer1..4` of IBasicBlocks, `bn2`, `fc`, `features`), no squeeze-excitation. RGB (its inference
  script converts BGR to RGB).
Both take (x − 0.5) / 0.5 of [0, 1] pixels, i.e. our [-1, 1] faces as they are. The head is
Linear(512·k·k → 512) for a k × k final map: k = 7 for 112 × 112 input, 8 for 128 × 128.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from infoswap.errors import InfoswapError
from infoswap.recognition.base import Recognizer
from infoswap.weights.store import load_into, load_state

# Stem + the next nine units, as in the official release (at 128: 64×128², 3 × 64×64², 4 × 128×32²,
# 2 × 256×16²). Indices into `blocks`, whose entry 0 is the stem conv so that it can be tap 1.
TAPS = tuple(range(10))

# Box of our aligned face (fractions x0, y0, x1, y1) the network sees, by input size.
# 112: insightface's 112 × 112 five-point template (eyes (38.29, 51.70), (73.53, 51.50), nose (56.03, 71.74),
#      mouth (41.55, 92.37), (70.73, 92.20)) fitted onto TEMPLATE_5 by least squares with scale and shift
#      only (worst point 1.4 % of the side off); tests/test_irse50.py re-derives it.
# 128: the official release: the central 438 × 438 of the 512 aligned face.
CROPS = {
    112: (0.12906, 0.12280, 0.87284, 0.86658),
    128: (37 / 512, 37 / 512, 475 / 512, 475 / 512),
}

# Key of the head's Linear weight in each layout; its width fixes the input size.
HEAD_WEIGHT = {"irse50": "output_layer.3.weight", "iresnet50": "fc.weight"}


@dataclass(frozen=True)
class IRConfig:
    """Hyper-parameters of one ArcFace ResNet; `units` per stage at `widths`, each stage's first unit stride 2."""

    arch: str = "irse50"
    input_size: int = 112
    units: tuple[int, ...] = (3, 4, 14, 3)
    widths: tuple[int, ...] = (64, 128, 256, 512)
    embedding_dim: int = 512


def stage_plan(cfg: IRConfig) -> list[tuple[int, int, int]]:
    """(in channels, out channels, stride) for every residual unit, stage by stage."""
    plan, cin = [], cfg.widths[0]
    for n, width in zip(cfg.units, cfg.widths):
        plan += [(cin, width, 2)] + [(width, width, 1)] * (n - 1)
        cin = width
    return plan


def conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)


def projection(cin: int, cout: int, stride: int) -> nn.Sequential:
    """The strided 1×1 conv + BN shortcut both layouts use where a unit changes shape."""
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


class SqueezeExcite(nn.Module):
    """Channel gate x · sigmoid(fc2(relu(fc1(mean(x))))), 1×1 convs without bias, reduction 16."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=False)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean((2, 3), keepdim=True)))))


class Subsample(nn.Module):
    """Every `stride`-th pixel: what the original's MaxPool2d(1, stride) shortcut computes, minus the pass."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.stride == 1 else x[..., :: self.stride, :: self.stride]


class IRSEUnit(nn.Module):
    """bottleneck_IR_SE: BN, conv, PReLU, strided conv, BN, SE, plus a subsampled or projected shortcut."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.shortcut_layer = Subsample(stride) if cin == cout else projection(cin, cout, stride)
        self.res_layer = nn.Sequential(
            nn.BatchNorm2d(cin), conv3x3(cin, cout), nn.PReLU(cout),
            conv3x3(cout, cout, stride), nn.BatchNorm2d(cout), SqueezeExcite(cout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_layer(x) + self.shortcut_layer(x)


class IBasicBlock(nn.Module):
    """arcface_torch IBasicBlock: BN, conv, BN, PReLU, strided conv, BN; projection on each stage's first."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = conv3x3(cin, cout)
        self.bn2 = nn.BatchNorm2d(cout)
        self.prelu = nn.PReLU(cout)
        self.conv2 = conv3x3(cout, cout, stride)
        self.bn3 = nn.BatchNorm2d(cout)
        self.downsample = projection(cin, cout, stride) if stride != 1 or cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (x if self.downsample is None else self.downsample(x))


class ArcFaceResNet(Recognizer):
    """What both layouts share: config, taps, crop, channel order. Subclasses name the modules.

    `blocks` is a plain list (entry 0 the stem conv, then one entry per unit) over modules that are
    registered under their checkpoint names, so the state_dict holds each tensor once; `stem` is empty.
    """

    name = "irse50"
    taps = TAPS
    bgr: bool

    def __init__(self, cfg: IRConfig):
        super().__init__()
        if cfg.input_size not in CROPS:
            raise InfoswapError(f"ArcFace ResNet input size must be one of {sorted(CROPS)}, got {cfg.input_size}")
        self.cfg = cfg
        self.input_size = cfg.input_size
        self.embedding_dim = cfg.embedding_dim
        self.crop = CROPS[cfg.input_size]
        self.stem = nn.Identity()
        self.head_in = cfg.widths[-1] * (cfg.input_size // 16) ** 2

    def to_network_input(self, faces: torch.Tensor) -> torch.Tensor:
        """Aligned faces (B, 3, H, W) in [-1, 1] -> (B, 3, S, S) in [-1, 1], channels reversed if BGR."""
        x = self.crop_and_resize(faces)
        return x.flip(1) if self.bgr else x


class IRSE50(ArcFaceResNet):
    """IR-SE-50, InsightFace_Pytorch layout: (B, 3, S, S) -> 64×S² stem -> 24 SE units -> (B, 512)."""

    bgr = True

    def __init__(self, cfg: IRConfig = IRConfig()):
        super().__init__(cfg)
        width = cfg.widths[0]
        self.input_layer = nn.Sequential(conv3x3(3, width), nn.BatchNorm2d(width), nn.PReLU(width))
        self.body = nn.Sequential(*(IRSEUnit(*unit) for unit in stage_plan(cfg)))
        # Index 1 held Dropout in the original; identity here (the recogniser is frozen), kept for key numbers.
        self.output_layer = nn.Sequential(
            nn.BatchNorm2d(cfg.widths[-1]), nn.Identity(), nn.Flatten(),
            nn.Linear(self.head_in, cfg.embedding_dim), nn.BatchNorm1d(cfg.embedding_dim),
        )
        self.blocks = [self.input_layer, *self.body]

    def head(self, h: torch.Tensor) -> torch.Tensor:
        """(B, 512, k, k) -> (B, 512) before L2 normalisation."""
        return self.output_layer(h)


class IResNet50(ArcFaceResNet):
    """iresnet50, arcface_torch layout: (B, 3, S, S) -> 64×S² stem -> 24 IBasicBlocks -> (B, 512)."""

    name = "iresnet50"
    bgr = False

    def __init__(self, cfg: IRConfig = IRConfig(arch="iresnet50")):
        super().__init__(cfg)
        width = cfg.widths[0]
        self.conv1 = conv3x3(3, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.prelu = nn.PReLU(width)
        plan, start = stage_plan(cfg), 0
        for k, n in enumerate(cfg.units, 1):
            self.add_module(f"layer{k}", nn.Sequential(*(IBasicBlock(*unit) for unit in plan[start : start + n])))
            start += n
        self.bn2 = nn.BatchNorm2d(cfg.widths[-1])
        self.fc = nn.Linear(self.head_in, cfg.embedding_dim)
        self.features = nn.BatchNorm1d(cfg.embedding_dim)
        layers = (getattr(self, f"layer{k}") for k in range(1, len(cfg.units) + 1))
        self.blocks = [nn.Sequential(self.conv1, self.bn1, self.prelu), *(u for layer in layers for u in layer)]

    def head(self, h: torch.Tensor) -> torch.Tensor:
        """(B, 512, k, k) -> (B, 512) before L2 normalisation (dropout omitted: frozen recogniser)."""
        # The BN1d is registered as `features` (its checkpoint key), which Recognizer.features shadows.
        return self._modules["features"](self.fc(self.bn2(h).flatten(1)))


ARCHS: dict[str, type[ArcFaceResNet]] = {"irse50": IRSE50, "iresnet50": IResNet50}


def make(arch: str, input_size: int = 112, initialise: bool = True) -> ArcFaceResNet:
    """A network of `arch` in eval mode: PyTorch's default initialisation, or, with `initialise=False`,
    uninitialised memory for a strict load to fill (skips seconds of random initialisation)."""
    if arch not in ARCHS:
        raise InfoswapError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHS)}")
    cfg = IRConfig(arch=arch, input_size=input_size)
    if initialise:
        return ARCHS[arch](cfg).eval()
    with torch.device("meta"):
        model = ARCHS[arch](cfg)
    return model.to_empty(device="cpu").eval()


def make_random(arch: str = "irse50", input_size: int = 112, seed: int = 0) -> ArcFaceResNet:
    """A seeded random network for tests and benchmarks; leaves the global RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make(arch, input_size)


def arch_of(state: dict[str, torch.Tensor]) -> str | None:
    """The layout whose head key the state holds, or None."""
    return next((arch for arch, key in HEAD_WEIGHT.items() if key in state), None)


def input_size_of(arch: str, state: dict[str, torch.Tensor]) -> int:
    """112 or 128, from the head's Linear width (512·7·7 or 512·8·8); 112 when the key is absent."""
    weight = state.get(HEAD_WEIGHT[arch])
    if weight is None:
        return 112
    sizes = {512 * (s // 16) ** 2: s for s in CROPS}
    if weight.ndim != 2 or weight.shape[1] not in sizes:
        raise InfoswapError(f"{HEAD_WEIGHT[arch]} has shape {tuple(weight.shape)}; expected (512, 25088) "
                            "for 112 × 112 input or (512, 32768) for 128 × 128")
    return sizes[weight.shape[1]]


def fill_batch_counters(model: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state` plus a zero BatchNorm `num_batches_tracked` wherever `model` has one and `state` does not.

    The counter is training bookkeeping, unused in eval: checkpoints from before PyTorch 0.4.1
    (`model_ir_se50.pth`) lack it, and our files leave it out.
    """
    missing = [k for k in model.state_dict() if k.endswith(".num_batches_tracked") and k not in state]
    return dict(state, **{k: torch.tensor(0) for k in missing})


def build(checkpoint: str | None = None) -> ArcFaceResNet:
    """The recogniser stored in a safetensors file written by `infoswap convert` (loaded strictly)."""
    if checkpoint is None:
        raise InfoswapError("the IR-SE-50 recogniser needs weights: convert a checkpoint you have with "
                            "'infoswap convert model_ir_se50.pth --arch irse50 --out ir_se50.safetensors' "
                            "and pass ir_se50.safetensors")
    path = Path(checkpoint)
    if path.suffix in (".pth", ".pt", ".ckpt", ".tar"):
        out = path.with_suffix(".safetensors")
        raise InfoswapError(f"{path} is a PyTorch checkpoint; convert it first: "
                            f"infoswap convert {path} --arch irse50 (or iresnet50) --out {out}")
    if not path.is_file():
        raise InfoswapError(f"recogniser weights {path} not found")
    state = load_state(path)
    arch = arch_of(state)
    if arch is None:
        raise InfoswapError(f"{path} holds neither an IR-SE-50 nor an iresnet50 head "
                            f"(no {' or '.join(HEAD_WEIGHT.values())})")
    model = make(arch, input_size_of(arch, state), initialise=False)
    load_into(model, fill_batch_counters(model, state), str(path))
    return model
