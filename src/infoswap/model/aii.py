"""AII, Adaptive Information Integration: the generator Y = AII(z̃_sid, {f̃_j}, {λ̃_j}) (SPEC section 6).

Level j (4·2^j px) is a residual block of two integration layers, each followed by LeakyReLU and a 3×3
conv; levels are joined by bilinear ×2 upsampling; the last level outputs RGB through tanh. A transposed
4×4 conv turns the identity vector into the 4 × 4 starting map. The structure follows the official release
(FaceShifter's AAD blocks with the gate also seeing λ̃).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from infoswap.model.inplace import reusable

SLOPE = 0.01  # LeakyReLU slope of the official AII blocks
OUTPUT_GAIN = 0.1  # initial scale of the last level's RGB convs
IDENTITY_MOMENTUM = 0.01  # running mean of z̃: a cumulative average for the first 100 batches, then this
NORM_EPS = 1e-5  # nn.InstanceNorm2d's
FEW_OUTPUTS = 4  # a conv to at most this many channels (the RGB output) is a matrix product in a swap


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
        if _sliced(h):
            return self._mix_without_graph(h, attr, lam, z_id, own)
        # With autograd every op makes a new map: the graph keeps its inputs.
        h = self.norm(h)
        size = h.shape[-2:]
        a = torch.addcmul(_fit(self.attr_shift(attr), size), _fit(self.attr_scale(attr), size), h)
        i = torch.addcmul(self.id_shift(z_id)[:, :, None, None], self.id_scale(z_id)[:, :, None, None], h)
        return self._gated(a, i, self._gate(self._on_normalised(h), lam))

    def _mix_without_graph(self, h: torch.Tensor, attr: torch.Tensor, lam: torch.Tensor, z_id: torch.Tensor,
                           own: bool) -> torch.Tensor:
        """The same map made a slice of channels at a time, into a new map or, when `own`, over h itself
        (model/inplace.py). At 512 px a full-size map is 64 MiB, and glibc maps every block above 32 MiB
        afresh, so each one made costs its page faults again (≈ 25 ms): the slices' temporaries stay
        below that and are reused, and no full-size normalised h, A or I is made."""
        mean, rstd, on_h = self._statistics(h)
        m = self._gate(on_h, lam)
        out = h if own else torch.empty_like(h)
        gamma, beta = self.id_scale(z_id)[:, :, None, None], self.id_shift(z_id)[:, :, None, None]
        for part in _channel_slices(h):
            hn = torch.sub(h[:, part], mean[:, part]).mul_(rstd[:, part])
            a = _fit(_project(self.attr_shift, attr, part), h.shape[-2:])
            a = a.addcmul_(_fit(_project(self.attr_scale, attr, part), h.shape[-2:]), hn)
            i = hn.mul_(gamma[:, part]).add_(beta[:, part])
            self._gated(a, i, m, out=out[:, part])
        return out

    def _statistics(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """InstanceNorm2d's mean and 1 / std of h (B, C, 1, 1), and the gate's 1×1 conv on the normalised
        h (B, 1, H, W), all from slices of centred h."""
        mean = h.mean((2, 3), keepdim=True)
        rstd = torch.empty_like(mean)
        weight = self.gate.weight[:, : h.shape[1]].flatten(1).to(h.dtype)  # (1, C)
        on_h = h.new_zeros(h.shape[0], 1, h.shape[2] * h.shape[3])
        for part in _channel_slices(h):
            centred = torch.sub(h[:, part], mean[:, part])
            norm = torch.linalg.vector_norm(centred, dim=(2, 3), keepdim=True)
            rstd[:, part] = norm.square_().div_(h.shape[2] * h.shape[3]).add_(NORM_EPS).rsqrt_()  # biased variance
            on_h.baddbmm_((weight[:, part] * rstd[:, part, 0, 0]).unsqueeze(1), centred.flatten(2))
        return mean, rstd, on_h.unflatten(2, h.shape[-2:])

    def _gate(self, on_h: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        """M = sigmoid(conv1×1([h, λ̃])) from on_h (B, 1, H, W), the conv's part on the normalised h's
        channels, plus its part on λ̃ (λ̃ may be smaller: that part is enlarged)."""
        c = self.gate.weight.shape[1] - lam.shape[1]
        on_lam = _fit(F.conv2d(lam, self.gate.weight[:, c:]), on_h.shape[-2:])
        return torch.sigmoid(on_h + self.gate.bias.view(1, 1, 1, 1) + on_lam)

    def _on_normalised(self, hn: torch.Tensor) -> torch.Tensor:
        """The gate's 1×1 conv on the normalised h's channels (B, 1, H, W): a matrix product (a conv with one
        output channel would first copy h into oneDNN's layout)."""
        return torch.matmul(self.gate.weight[:, : hn.shape[1]].flatten(1), hn.flatten(2)).unflatten(2, hn.shape[-2:])

    @staticmethod
    def _gated(a: torch.Tensor, i: torch.Tensor, m: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """(1 − M) ⊙ A + M ⊙ I. Under CUDA autocast the normalised h (so A and I) or the enlarged gate can
        stay fp32 beside bf16 convs; lerp takes one dtype, the output's (A's without one)."""
        dtype = a.dtype if out is None else out.dtype
        return torch.lerp(a.to(dtype), i.to(dtype), m.to(dtype), out=out)


SLICE_BYTES = 16 << 20  # a graph-free mix's temporaries: below glibc's 32 MiB, so its heap reuses them


def _sliced(x: torch.Tensor) -> bool:
    """Whether the work on x takes the graph-free, sliced forms: without autograd, and not on CUDA, whose
    caching allocator reuses its blocks anyway (there the slices would only launch more kernels)."""
    return not torch.is_grad_enabled() and x.device.type != "cuda"


def _per_slice(unit: torch.Tensor) -> int:
    """How many maps the size of `unit` (a channel, a row) fit in SLICE_BYTES; at least one."""
    return max(1, SLICE_BYTES // (unit.numel() * unit.element_size()))


def _channel_slices(h: torch.Tensor) -> list[slice]:
    """Slices of h's channels of at most SLICE_BYTES each (at least one channel)."""
    step = _per_slice(h[:, 0])
    return [slice(k, k + step) for k in range(0, h.shape[1], step)]


def _project(conv: nn.Conv2d, x: torch.Tensor, part: slice) -> torch.Tensor:
    """The output channels `part` of a 1×1 conv of x, as a matrix product: oneDNN's 1×1 convs copy x and
    their output between layouts (a slice of the output is also all that is made)."""
    weight, bias = conv.weight[part].flatten(1), conv.bias[part]
    return _channel_product(weight, x).add_(bias.to(x.dtype)[:, None, None])


def _channel_product(weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """weight (O, C) applied over the channels of x (B, C, H, W) -> (B, O, H, W): one plain matrix product
    per image (at batch 1 matmul's batched product took up to 1.6× as long)."""
    weight, out = weight.to(x.dtype), x.new_empty(x.shape[0], weight.shape[0], *x.shape[2:])
    for image, result in zip(x, out):
        torch.mm(weight, image.flatten(1), out=result.flatten(1))
    return out


def _fit(x: torch.Tensor, size: torch.Size) -> torch.Tensor:
    """x (B, C, h, w) bilinearly resized to `size` (H, W) when it differs."""
    if x.shape[-2:] == size:
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def block_conv(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """conv(x) of a 3×3 conv with padding 1. Sliced (`_sliced`), one to the few RGB channels runs as a matrix
    product (oneDNN took 55 ms for 64 → 3 channels at 512 px, the product 19 ms), and one over a map
    larger than SLICE_BYTES a band of rows at a time."""
    if not _sliced(x):
        return conv(x)
    if conv.out_channels <= FEW_OUTPUTS:
        return _few_output_conv3x3(x, conv.weight, conv.bias)
    if x.numel() * x.element_size() > SLICE_BYTES:
        return _banded_conv3x3(conv, x)
    return conv(x)


def _banded_conv3x3(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """conv(x) into one output map, a band of rows (with the rows beside it) at a time: oneDNN copies its
    input and output to and from its own layout, three more full-size maps at once, each faulted in
    afresh above 32 MiB; a band's copies stay below that and are reused."""
    height = x.shape[2]
    rows = _per_slice(x[:, :, 0])
    out = x.new_empty(x.shape[0], conv.out_channels, *x.shape[2:])
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        band = x[:, :, max(0, top - 1) : bottom + 1]  # zero rows beyond the map's edges, as padding 1 gives
        band = F.pad(band, (1, 1, int(top == 0), int(bottom == height)))
        out[:, :, top:bottom] = F.conv2d(band, conv.weight, conv.bias)
    return out


def _few_output_conv3x3(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """x (B, C, H, W) convolved with weight (O, C, 3, 3), zero padding 1: every tap's weights applied to x in
    one product (B, 3, 3, O, H, W), then the taps shifted into place and summed."""
    batch, _, height, width = x.shape
    taps = _channel_product(weight.permute(2, 3, 0, 1).flatten(0, 2), x).view(batch, 3, 3, -1, height, width)
    out = taps[:, 1, 1].clone()
    if bias is not None:
        out += bias.to(out.dtype)[:, None, None]
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:  # out[y, x] += tap(dy, dx)[y + dy, x + dx] wherever that lies inside the map
                out[..., max(0, -dy):height - max(0, dy), max(0, -dx):width - max(0, dx)] += taps[
                    :, dy + 1, dx + 1, :, max(0, dy):height + min(0, dy), max(0, dx):width + min(0, dx)]
    return out


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
        short = h
        if hasattr(self, "conv_short"):  # first: then h is read no more after the first mix, which may overwrite it
            short = block_conv(self.conv_short, F.leaky_relu(self.mix_short(h, attr, lam, z_id), SLOPE, inplace))
        x = block_conv(self.conv1, F.leaky_relu(self.mix1(h, attr, lam, z_id, own=short is not h), SLOPE, inplace))
        x = block_conv(self.conv2, F.leaky_relu(self.mix2(x, attr, lam, z_id, own=True), SLOPE, inplace))
        return torch.add(x, short, out=reusable(x))


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
