"""The assembled model: shapes at every preset, what is saved, what a swap runs, and the decoder's wiring."""

from __future__ import annotations

import pytest
import torch

from infoswap.config import preset
from infoswap.model import aii
from infoswap.model.aii import IntegrationLayer, block_conv
from infoswap.model.decoder import Decoder, tap_levels
from infoswap.model.discriminator import Discriminator
from infoswap.model.infoswap import InfoSwap
from infoswap.recognition.dlib_resnet import DlibResNet
from infoswap.recognition.registry import load_recognizer
from model_fixtures import TinyRecognizer, tiny_config

DLIB_TAPS = [(32, 35, 35)] + [(64, 17, 17)] * 4 + [(128, 8, 8)] * 3 + [(256, 4, 4)] * 2
# Official IR-SE-50 at 128 input (SPEC section 3).
IRSE_TAPS = [(64, 128, 128)] + [(64, 64, 64)] * 3 + [(128, 32, 32)] * 4 + [(256, 16, 16)] * 2


def _check_swap_shapes(model: InfoSwap, D: Discriminator, res: int, batch: int, device: str = "cpu") -> None:
    x = torch.rand(batch, 3, res, res, device=device) * 2 - 1
    enc = model.encode(x)
    assert [tuple(r.shape[1:]) for r in enc.taps] == model.tap_shapes
    assert all(lam.shape == r.shape for lam, r in zip(enc.lambdas, enc.taps))
    assert enc.z_tilde.shape == (batch, model.recognizer.embedding_dim) and enc.information.shape == ()
    feats = model.attribute_maps(enc.taps, enc.lambdas, model.noise(batch))
    attrs, controls = model.decode(feats, enc.lambdas, x)
    for j, (a, c) in enumerate(zip(attrs, controls)):
        size = 4 << j  # a light decoder hands its enlarged levels over smaller (model/decoder.py)
        assert a.shape[:2] == c.shape[:2] == (batch, model.cfg.decoder_channels[j])
        light = model.cfg.light_decoder
        assert a.shape[-1] == size or (light and j == len(attrs) - 1 and a.shape[-1] == size // 2)
        assert c.shape[-1] == size or (light and c.shape[-1] < size)
    y = model.aii(enc.z_tilde, attrs, controls)
    assert y.shape == (batch, 3, res, res)
    assert D(y).shape == (batch,)
    if device == "cpu":
        assert y.abs().max() <= 1


@pytest.mark.parametrize("res", [128, 256])
def test_shapes_at_cpu_presets_with_dlib(res):
    torch.manual_seed(0)
    cfg = preset(res)
    model = InfoSwap(cfg, load_recognizer("dlib"))
    assert model.tap_shapes == DLIB_TAPS
    with torch.no_grad():
        _check_swap_shapes(model, Discriminator(cfg.disc_channels), res, batch=2)


def test_shapes_at_the_paper_preset_on_the_meta_device():
    """The full-size 512 wiring without the arithmetic (the slow test below computes 512 and 1024)."""
    res = 512
    cfg = preset(res)
    with torch.device("meta"):
        model = InfoSwap(cfg, DlibResNet().eval().requires_grad_(False))
        _check_swap_shapes(model, Discriminator(cfg.disc_channels), res, batch=1, device="meta")


@pytest.mark.slow
@pytest.mark.parametrize("res", [512, 1024])
def test_paper_presets_compute(res):
    torch.manual_seed(0)
    cfg = preset(res)
    model = InfoSwap(cfg, load_recognizer("dlib"))
    with torch.no_grad():
        _check_swap_shapes(model, Discriminator(cfg.disc_channels), res, batch=1)


def test_recogniser_is_frozen_unsaved_and_moves_along():
    rec = TinyRecognizer()
    model = InfoSwap(tiny_config(), rec)
    assert not any(k.startswith("recognizer") for k in model.state_dict())
    assert {k.split(".")[0] for k in model.state_dict()} == {"iib", "decoder", "aii"}
    assert "iib.mean_0" in model.state_dict() and "iib.active_9" in model.state_dict()
    rec_params = {id(p) for p in rec.parameters()}
    assert not rec_params & {id(p) for p in model.parameters()}
    model.train()
    assert not rec.training and model.decoder.training
    model.double()
    assert next(rec.parameters()).dtype == torch.float64 and next(model.aii.parameters()).dtype == torch.float64


def test_swap_runs_continuations_for_the_source_only(monkeypatch):
    torch.manual_seed(0)
    rec = TinyRecognizer()
    model = InfoSwap(tiny_config(), rec)
    calls = []
    original = rec.continue_all
    monkeypatch.setattr(rec, "continue_all", lambda zs: calls.append(zs[0].shape[0]) or original(zs))
    source, targets = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(3, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        z_src = model.source_identity(source)
        assert calls == [1]
        y = model.swap(None, targets, z_src=z_src, generator=torch.Generator().manual_seed(0))
        assert calls == [1] and y.shape == (3, 3, 32, 32)
        again = model.swap(source, targets, generator=torch.Generator().manual_seed(0))
    assert calls == [1, 1] and again.shape == y.shape
    with_graph = model.swap(None, targets, z_src=z_src, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(y, with_graph, rtol=0, atol=1e-5)  # the graph-free mixes round differently


def test_taps_map_to_levels_by_size():
    assert tap_levels(DLIB_TAPS, 6) == [3, 2, 2, 2, 2, 1, 1, 1, 0, 0]  # 32, 16, 8, 4 px
    assert tap_levels(IRSE_TAPS, 8) == [5, 4, 4, 4, 3, 3, 3, 3, 2, 2]  # 128 … 16 px
    assert tap_levels(IRSE_TAPS, 6)[0] == 5  # clamped to the finest level at 128 px


def test_decoder_extends_below_the_coarsest_tap_and_takes_the_image_at_half_resolution():
    torch.manual_seed(0)
    widths = (8, 8, 8, 8, 8, 4, 4, 4)  # 512 px levels, narrow
    dec = Decoder(IRSE_TAPS, widths)
    assert dec.bottom == 2 and len(dec.down) == 2
    g = torch.Generator().manual_seed(0)
    feats = [torch.randn(1, *s, generator=g) for s in IRSE_TAPS[1:]]
    lambdas = [torch.rand(1, *s, generator=g) for s in IRSE_TAPS]
    image = torch.rand(1, 3, 512, 512, generator=g)
    with torch.no_grad():
        attrs = dec.attributes(feats, image)
        other = dec.attributes(feats, image.flip(-1))
        controls = dec.controllers(lambdas)
    assert [a.shape[-1] for a in attrs] == [4 << j for j in range(8)]
    assert [c.shape for c in controls] == [a.shape for a in attrs]
    changed = [not torch.allclose(a, b) for a, b in zip(attrs, other)]
    assert changed == [False] * 6 + [True] * 2  # the image joins at 256 px and flows to 512 px only
    with pytest.raises(ValueError, match="taps 2"):
        dec.attributes(feats + feats[:1], image)


def test_integration_layer_enlarges_the_projections_of_smaller_maps_to_the_same_values():
    torch.manual_seed(0)
    layer = IntegrationLayer(channels=4, attr_channels=3, lambda_channels=2, id_dim=5)
    h, z = torch.randn(2, 4, 16, 16), torch.randn(2, 5)
    attr, lam = torch.randn(2, 3, 8, 8), torch.rand(2, 2, 4, 4)
    enlarge = lambda x: torch.nn.functional.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False)
    with torch.no_grad():
        assert torch.allclose(layer(h, attr, lam, z), layer(h, enlarge(attr), enlarge(lam), z), atol=1e-5)


@pytest.mark.parametrize("own", [False, True], ids=["kept", "overwritten"])
@pytest.mark.parametrize("attr_size", [8, 16], ids=["enlarged", "same-size"])
@pytest.mark.parametrize("slice_bytes", [1, aii.SLICE_BYTES], ids=["a-channel-a-slice", "one-slice"])
def test_graph_free_integration_layer_gives_the_recorded_map(own, attr_size, slice_bytes, monkeypatch):
    monkeypatch.setattr(aii, "SLICE_BYTES", slice_bytes)  # at 512 px the 64 channels come 16 at a time
    torch.manual_seed(0)
    layer = IntegrationLayer(channels=4, attr_channels=3, lambda_channels=2, id_dim=5)
    h, z = torch.randn(2, 4, 16, 16), torch.randn(2, 5)
    attr, lam = torch.randn(2, 3, attr_size, attr_size), torch.rand(2, 2, 16, 16)
    recorded = layer(h, attr, lam, z)
    assert recorded.requires_grad  # the layer's parameters need grad: the path with a graph
    kept = h.clone()
    with torch.no_grad():
        graph_free = layer(h, attr, lam, z, own=own)
    assert torch.allclose(graph_free, recorded.detach(), rtol=0, atol=1e-5)
    assert torch.equal(h, kept) != own  # h is written only when it is the caller's own


def test_a_conv_to_the_rgb_channels_is_a_product_of_its_taps_without_autograd():
    torch.manual_seed(0)
    for batch, channels, height, width, bias in ((1, 16, 9, 7, False), (3, 8, 1, 2, False), (2, 4, 5, 5, True)):
        conv = torch.nn.Conv2d(channels, 3, 3, padding=1, bias=bias)
        x = torch.randn(batch, channels, height, width)
        with torch.no_grad():
            assert torch.allclose(block_conv(conv, x), conv(x), rtol=0, atol=1e-5)
        assert block_conv(conv, x).grad_fn is not None  # with autograd, the conv itself


@pytest.mark.parametrize("rows", [1, 2, 7])
def test_a_conv_over_a_large_map_runs_a_band_of_rows_at_a_time_without_autograd(rows, monkeypatch):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(8, 6, 3, padding=1)
    x = torch.randn(2, 8, 7, 5)
    monkeypatch.setattr(aii, "SLICE_BYTES", rows * x[:, :, 0].numel() * 4)  # bands of `rows` rows
    with torch.no_grad():
        assert torch.allclose(block_conv(conv, x), conv(x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("grad", [True, False], ids=["training", "swapping"])
def test_integration_layer_mixes_maps_of_two_precisions_under_bf16_autocast(grad):
    """On CUDA, autocast leaves the normalised h (and enlarged maps) in fp32 while the convs give bf16:
    the gate's lerp must still run (a bf16 GPU run crashed here). CPU autocast reproduces it with an fp32 h."""
    torch.manual_seed(0)
    layer = IntegrationLayer(channels=4, attr_channels=3, lambda_channels=2, id_dim=5)
    h, z = torch.randn(2, 4, 16, 16), torch.randn(2, 5)
    attr, lam = torch.randn(2, 3, 8, 8), torch.rand(2, 2, 16, 16)
    with torch.set_grad_enabled(grad), torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(h, attr, lam, z)
    with torch.no_grad():
        reference = layer(h, attr, lam, z)
    assert out.shape == reference.shape and torch.isfinite(out).all()
    assert (out.float() - reference).abs().max() < 0.1  # bf16 rounding, not another map


def test_integration_gate_selects_identity_or_attributes():
    torch.manual_seed(0)
    layer = IntegrationLayer(channels=4, attr_channels=3, lambda_channels=2, id_dim=5)
    h, attr, lam, z = torch.randn(2, 4, 6, 6), torch.randn(2, 3, 6, 6), torch.rand(2, 2, 6, 6), torch.randn(2, 5)
    hn = torch.nn.functional.instance_norm(h)
    attribute_path = layer.attr_scale(attr) * hn + layer.attr_shift(attr)
    identity_path = layer.id_scale(z)[:, :, None, None] * hn + layer.id_shift(z)[:, :, None, None]
    with torch.no_grad():
        layer.gate.weight.zero_()
        layer.gate.bias.fill_(30.0)
        assert torch.allclose(layer(h, attr, lam, z), identity_path, atol=1e-5)
        layer.gate.bias.fill_(-30.0)
        assert torch.allclose(layer(h, attr, lam, z), attribute_path, atol=1e-5)
        layer.gate.weight[0, 4:].fill_(100.0)  # the gate reads λ̃: where λ̃ > 0.3, identity
        layer.gate.bias.fill_(-30.0)
        out = layer(h, attr, lam, z)
    mask = (lam.sum(1, keepdim=True) * 100 - 30 > 10).expand_as(out)
    assert torch.allclose(out[mask], identity_path[mask], atol=1e-3)


def test_without_autograd_the_generator_overwrites_its_own_maps_with_the_same_values_up_to_rounding():
    torch.manual_seed(0)
    model = InfoSwap(tiny_config(), TinyRecognizer())
    source, targets = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    noise = model.noise(1, torch.Generator().manual_seed(1))
    z_src = model.source_identity(source).detach()
    with torch.enable_grad():  # the parameters need grad: a graph is recorded, nothing is written in place
        recorded = model.swap(None, targets, z_src=z_src, noise=noise)
    assert recorded.requires_grad
    kept = targets.clone()
    with torch.no_grad():
        in_place = model.swap(None, targets, z_src=z_src, noise=noise)
    with torch.inference_mode():
        inference = model.swap(None, targets, z_src=z_src, noise=noise)
    # Graph-free, the integration layers normalise in place and use matrix products for the projections
    # and the RGB convs: the same map up to float rounding (about 1e-6; an overwritten map still in use
    # would differ by O(1)).
    assert torch.allclose(in_place, recorded.detach(), rtol=0, atol=1e-5) and torch.equal(inference, in_place)
    assert torch.equal(targets, kept)  # inputs are never written


def test_centred_identity_input_sees_who_the_source_is_not_the_common_part():
    torch.manual_seed(0)
    raw, centred = InfoSwap(tiny_config(), TinyRecognizer()), InfoSwap(tiny_config(identity_input="centred"),
                                                                       TinyRecognizer())
    assert not any("identity" in k for k in raw.state_dict())  # released layout: old weights files still load
    assert {"aii.identity_mean", "aii.identity_batches"} <= set(centred.state_dict())  # ships with the weights
    dim = centred.aii.identity_mean.numel()
    common = torch.zeros(dim)
    common[0] = 1.0
    first, second = common + 0.05 * torch.randn(4, dim), common + 0.05 * torch.randn(4, dim)
    raw.aii.observe_identity(first)  # a no-op for the released input
    centred.aii.observe_identity(first)
    centred.aii.observe_identity(second)
    expected = (first.mean(0) + second.mean(0)) / 2  # a cumulative average over the first batches
    assert torch.allclose(centred.aii.identity_mean, expected, atol=1e-6)
    e = torch.zeros(1, dim)
    e[0, 1] = 1.0
    code = centred.aii.identity_code(expected + 0.01 * e)
    assert torch.allclose(code, e, atol=1e-5)  # only the part that differs from the mean, at unit length
    assert torch.equal(raw.aii.identity_code(first), first)


def test_light_decoder_skips_the_dear_convs_and_keeps_every_levels_shape():
    """512-px wiring (IR-SE-50 taps), narrow: the finest level is the one below enlarged, and λ̃ never runs
    the expanding path's convs, which at full size cost most of the decoder."""
    torch.manual_seed(0)
    widths = (8, 8, 8, 8, 8, 4, 4, 4)
    dec, full = Decoder(IRSE_TAPS, widths, light=True), Decoder(IRSE_TAPS, widths)
    assert len(dec.refine) == len(full.refine) - 1 and len(dec.lambda_up) == 2  # 256 and 512 px from 128
    g = torch.Generator().manual_seed(0)
    feats = [torch.randn(1, *s, generator=g) for s in IRSE_TAPS[1:]]
    lambdas = [torch.rand(1, *s, generator=g) for s in IRSE_TAPS]
    image = torch.rand(1, 3, 512, 512, generator=g)
    expanding = [*dec.up, *dec.refine]
    calls = []
    for conv in expanding:
        conv.register_forward_hook(lambda *_: calls.append(1))
    with torch.no_grad():
        controls = dec.controllers(lambdas)
        assert not calls  # λ̃ from the laterals alone
        attrs = dec.attributes(feats, image)
    # Levels the light decoder does not compute come unenlarged: f̃ at 512 is the 256 px map itself, λ̃ at
    # 256 and 512 px stays at the finest lateral's 128 px; the AII enlarges its projections of them.
    assert [a.shape for a in attrs] == [(1, w, 4 << min(j, 6), 4 << min(j, 6)) for j, w in enumerate(widths)]
    assert [c.shape for c in controls] == [(1, w, 4 << min(j, 5), 4 << min(j, 5)) for j, w in enumerate(widths)]
    assert attrs[-1] is attrs[-2]
    with pytest.raises(ValueError, match="widths must match"):
        Decoder(IRSE_TAPS, (8, 8, 8, 8, 8, 4, 4, 2), light=True)
    assert preset(512).light_decoder and preset(1024).light_decoder
    assert not preset(128).light_decoder and not preset(256).light_decoder  # the demo checkpoint's wiring
