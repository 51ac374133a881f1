"""AII, Adaptive Information Integration: the generator Y = AII(z̃_sid, {f̃_j}, {λ̃_j}) (SPEC section 6).

Level j (4·2^j px) is a residual block of two integration layers, each followed by LeakyReLU and a 3×3
conv; levels are joined by bilinear ×2 upsampling; the last level outputs RGB through tanh. A transposed
4×4 conv turns the identity vector into the 4 × 4 starting map. The structure follows the official release
(FaceShifter's AAD blocks with the gate also seeing λ̃).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from infoswap.model.inplace import reusable

SLOPE = 0.01  # LeakyReLU slope of the official AII blocks
OUTPUT_GAIN = 0.1  # initial scale of the last level's RGB convs
IDENTITY_MOMENTUM = 0.01  # running mean of z̃: a cumulative average for the first 100 batches, then this
NORM_EPS = 1e-5  # nn.InstanceNorm2d's


# SPEC section 6: out = (1 − M) ⊙ A + M ⊙ I with M = sigmoid(conv1×1([h, λ̃_j])).
class IntegrationLayer(nn.Module):
    """Instance-normalised h mixed from an attribute path (spatial γ, β of f̃_j) and an identity path
    (per-channel γ, β of z̃_sid), gated by h and λ̃_j. h (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, channels: int, attr_channels: int, lambda_channels: int, id_dim: int):
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, eps=NORM_EPS, affine=False)
        self.attr_scale = nn.Conv2d(attr_channels, channels, 1)
        self.attr_shift = nn.Conv2d(attr_channels, channels, 1)
        self.id_scale = nn.Linear(id_dim, channels)
        self.id_shift = nn.Linear(id_dim, channels)
        self.gate = nn.Conv2d(channels + lambda_channels, 1, 1)

    def forward(self, h: torch.Tensor, attr: torch.Tensor, lam: torch.Tensor, z_id: torch.Tensor,
                own: bool = False) -> torch.Tensor:
        """attr and lam may be smaller than h (a light decoder's enlarged levels): their 1×1 projections
        are enlarged instead, the same values (a 1×1 conv and bilinear resizing commute) for less memory.
        `own`: h is the caller's own map, read no more after this call, so a swap may overwrite it."""
        if not torch.is_grad_enabled():
            return self._mix_without_graph(h, attr, lam, z_id, own)
        # With autograd every op makes a new map: the graph keeps its inputs.
        h = self.norm(h)
        size = h.shape[-2:]
        a = torch.addcmul(_fit(self.attr_shift(attr), size), _fit(self.attr_scale(attr), size), h)
        i = torch.addcmul(self.id_shift(z_id)[:, :, None, None], self.id_scale(z_id)[:, :, None, None], h)
        return self._gated(a, i, self._gate(h, lam))

    def _mix_without_graph(self, h: torch.Tensor, attr: torch.Tensor, lam: torch.Tensor, z_id: torch.Tensor,
                           own: bool) -> torch.Tensor:
        """The same map, overwriting maps made here and, when `own`, h itself (model/inplace.py): at 512 px
        each full-size map is 64 MiB."""
        h = _instance_norm_(h) if own else self.norm(h)
        size = h.shape[-2:]
        shift, scale = _fit(self.attr_shift(attr), size), _fit(self.attr_scale(attr), size)
        a = torch.addcmul(shift, scale, h, out=shift)
        m = self._gate(h, lam)
        i = torch.addcmul(self.id_shift(z_id)[:, :, None, None], self.id_scale(z_id)[:, :, None, None], h, out=h)
        return self._gated(a, i, m, out=a)

    def _gate(self, h: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        """M = sigmoid(conv1×1([h, λ̃])): a matrix product on h's channels (a 1×1 conv with one output
        channel would first copy h into oneDNN's layout) plus a conv on λ̃, no concatenated copy."""
        w, c = self.gate.weight, h.shape[1]
        on_h = torch.matmul(w[:, :c].flatten(1), h.flatten(2)).view(h.shape[0], 1, *h.shape[-2:])
        return torch.sigmoid(on_h + self.gate.bias.view(1, 1, 1, 1) + _fit(F.conv2d(lam, w[:, c:]), h.shape[-2:]))

    @staticmethod
    def _gated(a: torch.Tensor, i: torch.Tensor, m: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """(1 − M) ⊙ A + M ⊙ I. Under CUDA autocast the normalised h (so A and I) or the enlarged gate can
        stay fp32 beside bf16 convs; lerp takes one dtype, A's."""
        return torch.lerp(a, i.to(a.dtype), m.to(a.dtype), out=out)


def _instance_norm_(h: torch.Tensor) -> torch.Tensor:
    """h (B, C, H, W) instance-normalised in place (InstanceNorm2d's biased variance and eps): centred,
    then divided by its RMS. On the CPU, var_mean and InstanceNorm2d take 3–4× as long at 512 px."""
    h = h.sub_(h.mean((2, 3), keepdim=True))
    rms = torch.linalg.vector_norm(h, dim=(2, 3), keepdim=True).div_(math.sqrt(h.shape[-2] * h.shape[-1]))
    return h.mul_(rms.square_().add_(NORM_EPS).rsqrt_())


def _fit(x: torch.Tensor, size: torch.Size) -> torch.Tensor:
    """x (B, C, h, w) bilinearly resized to `size` (H, W) when it differs."""
    if x.shape[-2:] == size:
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


# SPEC section 6 / App. Alg. 1 line 24: one AII level T_θj, a residual block of two integration layers.
class AIIBlock(nn.Module):
    """(B, cin, s, s) -> (B, cout, s, s); a third integration layer + conv maps the shortcut when cin ≠ cout.
    Without autograd it may overwrite h, which must be the caller's own map (the AII's always are)."""

    def __init__(self, cin: int, cout: int, attr_channels: int, lambda_channels: int, id_dim: int):
        super().__init__()
        widths = (attr_channels, lambda_channels, id_dim)
        self.mix1 = IntegrationLayer(cin, *widths)
        self.conv1 = nn.Conv2d(cin, cin, 3, padding=1, bias=False)
        self.mix2 = IntegrationLayer(cin, *widths)
        self.conv2 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        if cin != cout:
            self.mix_short = IntegrationLayer(cin, *widths)
            self.conv_short = nn.Conv2d(cin, cout, 3, padding=1, bias=False)

    def forward(self, h: torch.Tensor, attr: torch.Tensor, lam: torch.Tensor, z_id: torch.Tensor) -> torch.Tensor:
        inplace = not torch.is_grad_enabled()  # the mixes' outputs are this block's own (model/inplace.py)
        x = self.conv1(F.leaky_relu(self.mix1(h, attr, lam, z_id), SLOPE, inplace))
        x = self.conv2(F.leaky_relu(self.mix2(x, attr, lam, z_id, own=True), SLOPE, inplace))
        if hasattr(self, "conv_short"):
            h = self.conv_short(F.leaky_relu(self.mix_short(h, attr, lam, z_id, own=True), SLOPE, inplace))
        return torch.add(x, h, out=reusable(x))


# App. Alg. 1 line 24: Y = AII(z̃_sid, {f̃_j}, {λ̃_j}), levels T_θ1 … T_θL at 4 … resolution px.
class AII(nn.Module):
    """z̃ (B, D), f̃_j and λ̃_j (B, d_j, 4·2^j, 4·2^j) -> Y (B, 3, res, res) in (−1, 1)."""

    def __init__(self, channels: tuple[int, ...], level_channels: tuple[int, ...], id_dim: int,
                 centred_identity: bool = False):
        super().__init__()
        # [ours] ModelConfig.identity_input "centred": the AII sees normalise(z̃ − running mean of z̃). The
        # compressed identities of different people can differ by a cosine of only ≈ 0.985 (the IIB keeps
        # little), and that common part would otherwise drown who the source is.
        self.centred_identity = centred_identity
        if centred_identity:
            self.register_buffer("identity_mean", torch.zeros(id_dim))
            self.register_buffer("identity_batches", torch.zeros((), dtype=torch.long))
        self.start = nn.ConvTranspose2d(id_dim, channels[0], 4)
        cins = (channels[0],) + tuple(channels[:-1])
        self.blocks = nn.ModuleList(
            AIIBlock(cin, cout, d, d, id_dim) for cin, cout, d in zip(cins, channels, level_channels)
        )
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, a=SLOPE, nonlinearity="leaky_relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        with torch.no_grad():  # start the RGB output near 0, where tanh is not saturated [ours]
            for conv in (self.blocks[-1].conv2, getattr(self.blocks[-1], "conv_short", None)):
                if conv is not None:
                    conv.weight.mul_(OUTPUT_GAIN)

    @torch.no_grad()
    def observe_identity(self, z_id: torch.Tensor) -> None:
        """Training: folds a batch of the faces' z̃ (B, D) into the running mean (no-op unless centred)."""
        if self.centred_identity:
            self.identity_batches += 1
            rate = max(1.0 / int(self.identity_batches), IDENTITY_MOMENTUM)
            self.identity_mean.lerp_(z_id.mean(0).to(self.identity_mean.dtype), rate)

    def identity_code(self, z_id: torch.Tensor) -> torch.Tensor:
        """What the integration layers see of z̃ (B, D): z̃ itself, or normalise(z̃ − running mean)."""
        if not self.centred_identity:
            return z_id
        return F.normalize(z_id - self.identity_mean.to(z_id.dtype), dim=-1)

    def forward(
        self, z_id: torch.Tensor, attrs: Iterable[torch.Tensor], lambdas: Iterable[torch.Tensor]
    ) -> torch.Tensor:
        """`attrs` and `lambdas` are read level by level, coarse to fine: lists, or iterators that let each
        level's maps go once used."""
        z_id = self.identity_code(z_id)
        h = self.start(z_id[:, :, None, None])
        for j, (block, attr, lam) in enumerate(zip(self.blocks, attrs, lambdas, strict=True)):
            if j > 0:
                h = F.interpolate(h, scale_factor=2.0, mode="bilinear", align_corners=False)
            h = block(h, attr, lam, z_id)
        return torch.tanh(h)
