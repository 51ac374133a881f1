"""IIB, the Informative Identity Bottleneck (SPEC section 4; App. 1.1, 1.2; App. Alg. 1 lines 10–19).

For each tap i a readout h_IBi looks at all 10 tapped maps and predicts the information controller
λ_i = sigmoid(r_i) (same shape as R_i); the bottleneck keeps λ_i of R_i and replaces the rest by noise
drawn from R_i's element-wise statistics: Z_i = λ_i R_i + (1 − λ_i) ε_i. The statistics (µ, σ and the
share of images where a unit fired) come from `infoswap calibrate`; until then µ = 0, σ = 1, all active.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MIN_STD = 0.01  # standardisation floor, (R − µ) / max(σ, 0.01) (official release)
R_BOUND = 5.0  # r is clamped to [−5, 5], so λ ≤ sigmoid(5) and log(1 − λ) stays finite
INIT_BIAS = 5.0  # r = 5 at initialisation: λ ≈ 0.993, Z ≈ R (App. 1.1)
ACTIVE_SHARE = 0.01  # units non-zero in at most 1% of the calibration images are masked (official release)

Shape = tuple[int, int, int]


def information_loss(
    r_hat: torch.Tensor, lam: torch.Tensor, log_one_minus_lam: torch.Tensor
) -> torch.Tensor:
    """Per-element KL[N(λR + (1−λ)µ, (1−λ)²σ²) ‖ N(µ, σ²)] with R̂ = (R − µ)/σ (IBA, SPEC section 4).

    KL = −log(1 − λ) + ((1 − λ)² + λ² R̂²)/2 − 1/2, regrouped as [−log(1 − λ) − λ] + λ²(1 + R̂²)/2:
    both parts are ≥ 0 term by term, the sum is exactly 0 at λ = 0, and nothing cancels in half precision.
    `log_one_minus_lam` is passed in so callers can use log-sigmoid(−r) instead of log(1 − λ).
    """
    return (-log_one_minus_lam - lam) + lam.square() * (1 + r_hat.square()) / 2


# App. 1.1 "three Conv + ReLU blocks" h_IBi; the last ReLU dropped (SPEC section 4), 1×1 convs as released.
class Readout(nn.Module):
    """Standardised, resized taps (B, ΣC, H_i, W_i) -> r_i (B, C_i, H_i, W_i), clamped to [−5, 5]."""

    def __init__(self, in_channels: int, hidden: int, out_channels: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 1),
            nn.ReLU(),
            nn.Conv2d(hidden, 2 * out_channels, 1),
            nn.ReLU(),
            nn.Conv2d(2 * out_channels, out_channels, 1),
        )
        for conv in self.net[:-1:2]:
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.bias)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.constant_(self.net[-1].bias, INIT_BIAS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.finish(self.net[0](x))

    def finish(self, first: torch.Tensor) -> torch.Tensor:
        """r_i from the first conv's output (B, hidden, H_i, W_i): the layers after it, and the clamp."""
        return self.net[1:](first).clamp(-R_BOUND, R_BOUND)


# App. 1.2 "Gaussian Smooth with kernel size 1 and standard variance 0.25" on each λ_i.
class GaussianSmoothing(nn.Module):
    """Depthwise normalised Gaussian blur, replicate-padded (taps can be smaller than the kernel)."""

    def __init__(self, kernel_size: int, sigma: float):
        super().__init__()
        offsets = torch.arange(kernel_size, dtype=torch.float64) - (kernel_size - 1) / 2
        g = torch.exp(-offsets.square() / (2 * sigma**2))
        kernel = torch.outer(g, g)
        self.register_buffer("kernel", (kernel / kernel.sum()).float(), persistent=False)

    @property
    def is_identity(self) -> bool:
        return self.kernel.numel() == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.is_identity:  # the normalised 1×1 kernel is exactly [[1.0]]
            return x
        k = self.kernel.shape[-1]
        pad = (k - 1) // 2
        flat = F.pad(x.flatten(0, 1)[:, None], (pad, pad, pad, pad), mode="replicate")  # (B·C, 1, H+2p, W+2p)
        return F.conv2d(flat, self.kernel.to(x.dtype)[None, None]).view_as(x)


# SPEC section 4; App. Alg. 1 lines 10–19 (λ_i, ε_i, Z_i, I[Z_i, R_i]) for the 10 taps together.
class IIB(nn.Module):
    """Ten readouts, the smoothing and the calibrated statistics of a recogniser's taps.

    `tap_shapes` are the (C, H, W) of R_1 … R_10, found by one dry forward of the recogniser.
    """

    def __init__(self, tap_shapes: list[Shape], hidden: int, smooth_kernel: int = 1, smooth_sigma: float = 0.25):
        super().__init__()
        self.tap_shapes = [tuple(int(v) for v in s) for s in tap_shapes]
        in_channels = sum(c for c, _, _ in self.tap_shapes)
        self.readouts = nn.ModuleList(Readout(in_channels, hidden, c) for c, _, _ in self.tap_shapes)
        self.smoothing = GaussianSmoothing(smooth_kernel, smooth_sigma)
        for i, shape in enumerate(self.tap_shapes):
            self.register_buffer(f"mean_{i}", torch.zeros(shape))
            self.register_buffer(f"std_{i}", torch.ones(shape))
            self.register_buffer(f"active_{i}", torch.ones(shape, dtype=torch.bool))

    def __len__(self) -> int:
        return len(self.tap_shapes)

    def statistics(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(µ_i, σ_i, active_i), each (C_i, H_i, W_i)."""
        return getattr(self, f"mean_{i}"), getattr(self, f"std_{i}"), getattr(self, f"active_{i}")

    @torch.no_grad()
    def set_statistics(
        self, means: list[torch.Tensor], stds: list[torch.Tensor], actives: list[torch.Tensor]
    ) -> None:
        """Installs calibrated element-wise µ, σ and activity, one (C_i, H_i, W_i) tensor per tap each.

        `actives` are bool masks, or (floating point) the share of calibration images in which the unit was
        non-zero; a unit counts as active where that share is above 1% (official release).
        """
        for name, values in (("means", means), ("stds", stds), ("actives", actives)):
            if len(values) != len(self):
                raise ValueError(f"set_statistics: {len(values)} {name} for {len(self)} taps")
            for i, v in enumerate(values):
                if tuple(v.shape) != self.tap_shapes[i]:
                    raise ValueError(
                        f"set_statistics: {name}[{i}] has shape {tuple(v.shape)}, tap {i} is {self.tap_shapes[i]}"
                    )
        for i in range(len(self)):
            mean, std, active = self.statistics(i)
            mean.copy_(means[i])
            std.copy_(stds[i])
            active.copy_(actives[i] > ACTIVE_SHARE if actives[i].is_floating_point() else actives[i])

    def standardise(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """(x − µ_i) / max(σ_i, 0.01), element-wise; x is (B, C_i, H_i, W_i)."""
        mean, std, _ = self.statistics(i)
        return (x - mean) / std.clamp_min(MIN_STD)

    def sample_noise(self, i: int, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """ε_i ~ N(µ_i, σ_i²) element-wise: (batch, C_i, H_i, W_i)."""
        mean, std, _ = self.statistics(i)
        noise = torch.randn((batch, *mean.shape), generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + std * noise

    def readout_inputs(self, taps: list[torch.Tensor]) -> dict[tuple[int, int], torch.Tensor]:
        """All standardised taps resized to each distinct tap size and concatenated: {(H, W): (B, ΣC, H, W)}."""
        standard = [self.standardise(i, r) for i, r in enumerate(taps)]
        inputs = {}
        for _, h, w in self.tap_shapes:
            if (h, w) not in inputs:
                inputs[h, w] = torch.cat([_resize(s, (h, w)) for s in standard], dim=1)
        return inputs

    def controllers(self, taps: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Readouts r_i (clamped) and smoothed controllers λ_i, each (B, C_i, H_i, W_i)."""
        inputs = self.readout_inputs(taps)
        logits = [readout(inputs[h, w]) for readout, (_, h, w) in zip(self.readouts, self.tap_shapes)]
        return logits, [self.smoothing(torch.sigmoid(r)) for r in logits]

    def lambdas(self, taps: list[torch.Tensor]) -> list[torch.Tensor]:
        """The controllers λ_i alone, as `controllers` computes them with about a third of the multiply-adds.

        A readout's first layer is a 1×1 conv over all standardised taps resized to its size; a 1×1 conv
        and a bilinear resize are both linear and act on different axes, so they commute. Each group of taps
        of one size is therefore projected at the smaller of its own size and the readout's, and the
        projection resized instead of the taps: at 512 px with IR-SE-50 the readouts fall from 37 to 13 GMAC
        per face. The readouts of one size share one matmul, their weights stacked. Equal to
        `controllers(taps)[1]` up to float rounding; training keeps `controllers` (it needs the logits).
        """
        standard = [self.standardise(i, r) for i, r in enumerate(taps)]
        groups: dict[tuple[int, int], list[int]] = {}  # tap size -> its taps, fine to coarse
        for i, (_, h, w) in enumerate(self.tap_shapes):
            groups.setdefault((h, w), []).append(i)
        edges = [0]
        for c, _, _ in self.tap_shapes:
            edges.append(edges[-1] + c)
        lambdas: list[torch.Tensor | None] = [None] * len(self)
        for size, readers in groups.items():  # the readouts at `size` are those of its taps
            weight = torch.cat([self.readouts[k].net[0].weight[:, :, 0, 0] for k in readers])  # (n·hidden, ΣC)
            parts = []  # each (B, H, W, n·hidden)
            for tap_size, members in groups.items():
                w = weight[:, edges[members[0]] : edges[members[-1] + 1]]
                if tap_size[0] >= size[0]:
                    parts.append(_project(torch.cat([_resize(standard[i], size) for i in members], dim=1), w))
                else:
                    part = _project(torch.cat([standard[i] for i in members], dim=1), w)
                    parts.append(_resize(part.permute(0, 3, 1, 2), size).permute(0, 2, 3, 1))
            first = parts[0]
            for part in parts[1:]:
                first.add_(part)  # in place: parts[0] is a fresh tensor of this method's own
            first.add_(torch.cat([self.readouts[k].net[0].bias for k in readers]))
            for k, chunk in zip(readers, first.permute(0, 3, 1, 2).chunk(len(readers), dim=1)):
                lambdas[k] = self.smoothing(torch.sigmoid(self.readouts[k].finish(chunk))).contiguous()
        return lambdas

    def bottleneck(
        self, taps: list[torch.Tensor], lambdas: list[torch.Tensor], generator: torch.Generator | None = None
    ) -> list[torch.Tensor]:
        """Z_i = active_i ⊙ (λ_i R_i + (1 − λ_i) ε_i) with fresh noise (App. Alg. 1 lines 12–13)."""
        out = []
        for i, (r, lam) in enumerate(zip(taps, lambdas)):
            eps = self.sample_noise(i, r.shape[0], generator).to(r.dtype)
            out.append(self.statistics(i)[2] * (lam * r + (1 - lam) * eps))
        return out

    def information(
        self, taps: list[torch.Tensor], logits: list[torch.Tensor], lambdas: list[torch.Tensor]
    ) -> torch.Tensor:
        """L_info: mean over taps of the mean (over batch and elements) of the active units' KL."""
        total = 0.0
        for i, (r, logit, lam) in enumerate(zip(taps, logits, lambdas)):
            # λ = sigmoid(r) unsmoothed, so log(1 − λ) = log-sigmoid(−r) exactly; a blur of values
            # ≤ sigmoid(5) stays ≤ sigmoid(5), so log1p(−λ) is finite too.
            log_one_minus = F.logsigmoid(-logit) if self.smoothing.is_identity else torch.log1p(-lam)
            kl = information_loss(self.standardise(i, r), lam, log_one_minus)
            total = total + (kl * self.statistics(i)[2]).mean()
        return total / len(self)


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == size:
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def _project(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """A 1×1 conv without bias as one matmul, channels last out: (B, C, H, W), (O, C) -> (B, H, W, O).

    Channels last because bilinear resizing of many-channel maps is several times faster in that layout.
    """
    b, c, h, w = x.shape
    return (x.permute(0, 2, 3, 1).reshape(-1, c) @ weight.t()).view(b, h, w, -1)


def compressed_identity(recognizer: nn.Module, bottlenecked: list[torch.Tensor]) -> torch.Tensor:
    """z̃_id = (1/10) Σ_i normalise(f_IBi) with the staircase continuations (App. Alg. 1 lines 14, 18): (B, D)."""
    return torch.stack(recognizer.continue_all(bottlenecked)).mean(0)


def identity_cosine(a: torch.Tensor, b: torch.Tensor, centre: torch.Tensor | None = None) -> torch.Tensor:
    """cos(a − c, b − c) per row of (B, D) embeddings; c = `centre` (D,), or none."""
    if centre is not None:
        a, b = a - centre, b - centre
    return F.cosine_similarity(a, b, dim=-1)


def recognition_loss(z_tilde: torch.Tensor, z_id: torch.Tensor, centre: torch.Tensor | None = None) -> torch.Tensor:
    """L_recog = 1 − cos(z̃_id, z_id), batch mean (App. Alg. 1 line 19)."""
    return (1 - identity_cosine(z_tilde, z_id, centre)).mean()

