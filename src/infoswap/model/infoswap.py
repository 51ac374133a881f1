"""InfoSwap: the frozen recogniser f, the IIB, the decoder and the AII generator put together (SPEC 3–6).

The recogniser is a plain attribute, not a submodule: `state_dict()` holds the trainable parts (IIB with its
statistics, decoder, AII) only, and `.train()` never takes f out of eval mode. `.to()` / `.half()` move it
along. The methods are the pieces of App. Alg. 1 that training and swapping need; a swap runs the IIB's
continuations for the source only (`source_identity`, cacheable) and, for the target, only its taps, its
readouts λ^t and fresh noise. Swapping needs no readout logits, so it computes λ with `IIB.lambdas`
(the same values with about a third of the readouts' multiply-adds); training goes through `encode`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from infoswap.model.aii import AII
from infoswap.model.decoder import Decoder
from infoswap.model.iib import IIB, compressed_identity

if TYPE_CHECKING:
    from infoswap.config import ModelConfig
    from infoswap.recognition.base import Recognizer


@dataclass
class Encoding:
    """What App. Alg. 1 lines 5–19 produce for a batch of faces x (B, 3, res, res)."""

    z_id: torch.Tensor  # f(x), (B, D), L2-normalised
    taps: list[torch.Tensor]  # R_1 … R_10, (B, C_i, H_i, W_i)
    logits: list[torch.Tensor]  # r_i, clamped to [−5, 5]
    lambdas: list[torch.Tensor]  # λ_i (smoothed)
    bottleneck: list[torch.Tensor] | None = None  # Z_i, when the identity is asked for
    z_tilde: torch.Tensor | None = None  # z̃_id, (B, D), when asked for
    information: torch.Tensor | None = None  # L_info (scalar), when asked for


def tap_shapes(recognizer: nn.Module, resolution: int) -> list[tuple[int, int, int]]:
    """(C, H, W) of the recogniser's 10 taps for aligned faces of `resolution` px: one dry forward."""
    param = next(recognizer.parameters())
    probe = torch.zeros(1, 3, resolution, resolution, device=param.device, dtype=param.dtype)
    with torch.no_grad():
        _, taps = recognizer.features(probe)
    return [tuple(t.shape[1:]) for t in taps]


def _handed_over(maps: list[torch.Tensor]) -> Iterator[torch.Tensor]:
    """The items of `maps` in order, each removed from the list as it is handed out."""
    maps.reverse()
    while maps:
        yield maps.pop()


# App. Alg. 1 (the generator side, Θg = IIB + dec + AII) around the frozen recogniser f.
class InfoSwap(nn.Module):
    """Aligned faces (B, 3, res, res) in [−1, 1] in, swapped faces of the same shape out."""

    def __init__(self, cfg: ModelConfig, recognizer: Recognizer):
        super().__init__()
        self.cfg = cfg
        object.__setattr__(self, "recognizer", recognizer)  # not registered: frozen and not saved
        self.tap_shapes = tap_shapes(recognizer, cfg.resolution)
        if len(self.tap_shapes) != 10:
            raise ValueError(f"recogniser {recognizer.name!r} has {len(self.tap_shapes)} taps; InfoSwap uses 10")
        self.iib = IIB(self.tap_shapes, cfg.iib_hidden, cfg.smooth_kernel, cfg.smooth_sigma)
        self.decoder = Decoder(self.tap_shapes, cfg.decoder_channels, light=cfg.light_decoder)
        self.aii = AII(cfg.channels, cfg.decoder_channels, recognizer.embedding_dim,
                       centred_identity=cfg.identity_input == "centred")
        # Mean embedding f(x) over the calibration faces (not the AII's running mean of z̃), for centred
        # identity cosines in training only; not saved (swapping never needs it), so weights files keep
        # their keys.
        self.register_buffer("embedding_mean", torch.zeros(recognizer.embedding_dim), persistent=False)

    def _apply(self, fn, recurse=True):  # .to(), .half(), .cuda() move the recogniser too
        self.recognizer._apply(fn)
        return super()._apply(fn, recurse)

    def encode(
        self, x: torch.Tensor, identity: bool = True, information: bool = True,
        generator: torch.Generator | None = None,
    ) -> Encoding:
        """f(x) -> z_id, R_i; IIB -> λ_i; optionally Z_i and z̃_id, and L_info (App. Alg. 1 lines 5–18).

        Gradients pass through f only when x needs them (x = Y); for data, f runs without a graph.
        """
        with torch.set_grad_enabled(torch.is_grad_enabled() and x.requires_grad):
            z_id, taps = self.recognizer.features(x)
        logits, lambdas = self.iib.controllers(taps)
        enc = Encoding(z_id, taps, logits, lambdas)
        if identity:
            enc.bottleneck = self.iib.bottleneck(taps, lambdas, generator)
            enc.z_tilde = compressed_identity(self.recognizer, enc.bottleneck)
        if information:
            enc.information = self.iib.information(taps, logits, lambdas)
        return enc

    def source_identity(self, source: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """z̃_sid (B, D) of source faces; compute once per source and reuse it for every target."""
        _, taps = self.recognizer.features(source)
        bottleneck = self.iib.bottleneck(taps, self.iib.lambdas(taps), generator)
        return compressed_identity(self.recognizer, bottleneck)

    def noise(self, batch: int, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """One sample ε_i ~ N(µ_i, σ_i²) per tap, (batch, C_i, H_i, W_i)."""
        return [self.iib.sample_noise(i, batch, generator) for i in range(len(self.iib))]

    def attribute_maps(
        self, taps: list[torch.Tensor], lambdas: list[torch.Tensor], noise: list[torch.Tensor]
    ) -> list[torch.Tensor]:
        """f_i = λ_i ε_i + (1 − λ_i) R_i for taps 2 … 10, standardised (App. Alg. 1 lines 22, 33, 37).

        Tap 1's map is not computed: the decoder replaces it by the target image (App. 1.2). The maps are
        standardised with the calibrated statistics [ours], so the decoder sees unit-scale inputs.
        """
        return [
            self.iib.standardise(i, lam * eps.to(r.dtype) + (1 - lam) * r)
            for i, (r, lam, eps) in enumerate(zip(taps, lambdas, noise))
            if i > 0
        ]

    def decode(
        self, feats: list[torch.Tensor], lambdas: list[torch.Tensor], image: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """(f̃_j, λ̃_j) per generator level (App. Alg. 1 line 23)."""
        return self.decoder.attributes(feats, image), self.decoder.controllers(lambdas)

    def generate(
        self, z_src: torch.Tensor, feats: list[torch.Tensor], lambdas: list[torch.Tensor], image: torch.Tensor
    ) -> torch.Tensor:
        """Y = AII(z̃_sid, dec(f^t), dec(λ^t)) (App. Alg. 1 lines 23–24): (B, 3, res, res).

        The AII gets each level's decoded maps handed over, so the coarse levels' maps are freed before
        the finest level, where a swap's memory peaks, runs.
        """
        attrs, controls = self.decode(feats, lambdas, image)
        return self.aii(z_src, _handed_over(attrs), _handed_over(controls))

    def swap(
        self, source: torch.Tensor | None, target: torch.Tensor, z_src: torch.Tensor | None = None,
        generator: torch.Generator | None = None, noise: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Source identity into target faces (B, 3, res, res); pass a cached `z_src` to skip the source.

        A single source (or z_src of batch 1) serves a whole batch of targets. `noise`: fixed ε_i of batch
        1 or B (see `noise`) instead of fresh draws, e.g. to keep a video's faces from flickering.
        """
        b = target.shape[0]
        if z_src is None:
            z_src = self.source_identity(source, generator)
        z_src = z_src.expand(b, -1) if z_src.shape[0] == 1 else z_src
        noise = self.noise(b, generator) if noise is None else [n.expand(b, -1, -1, -1) for n in noise]
        _, taps = self.recognizer.features(target)
        lambdas = self.iib.lambdas(taps)
        return self.generate(z_src, self.attribute_maps(taps, lambdas, noise), lambdas, target)
