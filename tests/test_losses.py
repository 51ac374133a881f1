"""Algorithm 1's losses: where each term's gradient goes, the ICL flag, the relativistic losses, the weights."""

from __future__ import annotations

import math

import pytest
import torch

from infoswap.model.discriminator import (
    Discriminator,
    discriminator_adversarial_loss,
    generator_adversarial_loss,
)
from infoswap.errors import InfoswapError
from infoswap.model.iib import recognition_loss
from infoswap.model.infoswap import InfoSwap
from infoswap.train import losses
from infoswap.train.calibrate import TapStatistics
from infoswap.train.losses import cycle_loss, discriminator_loss, generator_losses, icl_losses, total
from infoswap.train.trainer import install_statistics
from model_fixtures import TinyRecognizer, tiny_config

TERMS = ("info", "recog", "pos", "neg", "icl", "per", "cyc", "adv", "ib", "total", "id")


@pytest.fixture
def setup():
    torch.manual_seed(0)
    cfg = tiny_config()
    model, D = InfoSwap(cfg, TinyRecognizer()), Discriminator(cfg.disc_channels)
    g = torch.Generator().manual_seed(1)
    x_s, x_t = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    return model, D, x_s, x_t


def _grads(loss: torch.Tensor, params: list[torch.Tensor]) -> list[torch.Tensor | None]:
    return list(torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True))


def _nonzero(grads: list[torch.Tensor | None]) -> bool:
    return any(g is not None and g.abs().sum() > 0 for g in grads)


def test_every_term_is_returned_and_deterministic(setup):
    model, D, x_s, x_t = setup
    a = generator_losses(model, D, x_s, x_t, generator=torch.Generator().manual_seed(5))
    b = generator_losses(model, D, x_s, x_t, generator=torch.Generator().manual_seed(5))
    assert set(TERMS) | {"Y"} == set(a)
    assert all(a[k].shape == () and torch.isfinite(a[k]) for k in TERMS)
    assert a["Y"].shape == x_s.shape
    assert all(torch.equal(a[k], b[k]) for k in TERMS)


def test_only_the_generator_parts_receive_gradients(setup):
    model, D, x_s, x_t = setup
    generator_losses(model, D, x_s, x_t, generator=torch.Generator().manual_seed(0))["total"].backward()
    assert all(p.grad is None for p in model.recognizer.parameters())
    assert all(p.grad is None for p in D.parameters())
    for part in (model.decoder, model.aii):
        assert all(p.grad is not None for p in part.parameters())
        assert all(p.grad.abs().sum() > 0 for p in part.parameters() if p.dim() > 1)
    # The readouts' last convs move first (their weights start at 0, so nothing flows below them yet).
    assert all(r.net[-1].weight.grad.abs().sum() > 0 for r in model.iib.readouts)


def test_cycle_term_reaches_aii_parameters_only_through_the_swap(setup, monkeypatch):
    """Alg. 1 lines 38–40: AII's parameters are frozen in the x̂_s pass. What reaches them from L_cyc is
    exactly what flows back through Y = AII(z̃_sid, f̃^t, λ̃^t); the readouts on Y still get their part."""
    model, D, x_s, x_t = setup

    def split(terms):
        aii = list(model.aii.parameters())
        direct = _grads(terms["cyc"], aii)
        (grad_y,) = torch.autograd.grad(terms["cyc"], terms["Y"], retain_graph=True)
        through_y = list(torch.autograd.grad(terms["Y"], aii, grad_y, retain_graph=True))
        return direct, through_y

    terms = generator_losses(model, D, x_s, x_t, generator=torch.Generator().manual_seed(0))
    direct, through_y = split(terms)
    assert all(torch.allclose(a, b, rtol=1e-4, atol=1e-9) for a, b in zip(direct, through_y))
    assert _nonzero(_grads(terms["cyc"], [r.net[-1].weight for r in model.iib.readouts]))

    # The same check fails when the x̂_s pass is not frozen: the test can tell the two apart.
    monkeypatch.setattr(losses, "call_frozen", lambda module, *args: module(*args))
    direct, through_y = split(generator_losses(model, D, x_s, x_t, generator=torch.Generator().manual_seed(0)))
    assert not all(torch.allclose(a, b, rtol=1e-4, atol=1e-9) for a, b in zip(direct, through_y))


def test_cycle_pass_alone_gives_aii_parameters_nothing(setup):
    model, _, x_s, _ = setup
    with torch.no_grad():
        enc = model.encode(x_s, identity=False, information=False)
        feats = model.attribute_maps(enc.taps, enc.lambdas, model.noise(2))
        attrs, controls = model.decode(feats, enc.lambdas, x_s)
    z_y = torch.randn(2, 32, requires_grad=True)
    loss = cycle_loss(model, z_y, attrs, controls, x_s)
    assert all(g is None for g in _grads(loss, list(model.aii.parameters())))
    assert _nonzero(_grads(loss, [z_y]))


def test_icl_negative_term_follows_the_flag():
    g = torch.Generator().manual_seed(0)
    z_s, z_t = torch.randn(4, 8, generator=g), torch.randn(4, 8, generator=g)
    cos_st = torch.nn.functional.cosine_similarity(z_s, z_t)
    pos, neg_target = icl_losses(z_s, z_s, z_t, "target")  # a swap that is exactly the source
    _, neg_source = icl_losses(z_s, z_s, z_t, "source")
    assert torch.allclose(pos, torch.tensor(-1.0))
    assert torch.allclose(neg_target, torch.tensor(0.0), atol=1e-7)  # as similar to t as s is
    assert torch.allclose(neg_source, ((1 - cos_st) ** 2).mean())  # the printed reading penalises it


def test_centred_cosines_tell_apart_embeddings_in_a_narrow_cone():
    """dlib-like embeddings: a shared mean plus small orthogonal parts. Uncentred, a swap that kept the
    target's identity already scores L_pos ≈ −0.99; centred on the mean it scores ≈ 0 and the loss can act."""
    mean = torch.zeros(8)
    mean[0] = 1.0
    z_s, z_t = mean + 0.1 * torch.eye(8)[1], mean + 0.1 * torch.eye(8)[2]
    kept_target = z_t[None]  # the swap's identity is the target's
    pos, _ = icl_losses(kept_target, z_s[None], z_t[None])
    pos_centred, neg_centred = icl_losses(kept_target, z_s[None], z_t[None], centre=mean)
    assert float(pos) < -0.98 and abs(float(pos_centred)) < 1e-6
    assert abs(float(neg_centred) - 1.0) < 1e-6  # cos_c(Y, t) = 1 while cos_c(s, t) = 0
    assert abs(float(recognition_loss(z_s[None], z_t[None], mean)) - 1.0) < 1e-6


def test_identity_term_is_off_by_default_and_moves_the_generator_when_weighted(setup):
    model, D, x_s, x_t = setup
    aii = list(model.aii.parameters())
    plain = generator_losses(model, D, x_s, x_t, generator=torch.Generator().manual_seed(0))
    weighted = tiny_config(beta_id=1.0, identity_centre=True)
    model.cfg = weighted
    model.embedding_mean.copy_(torch.linspace(-0.1, 0.1, model.embedding_mean.numel()))
    terms = generator_losses(model, D, x_s, x_t, generator=torch.Generator().manual_seed(0))
    assert 0 < float(plain["id"].detach()) < 2 and not torch.equal(plain["id"], terms["id"])  # centring changes it
    ib, without_id = total({**terms, "id": torch.zeros(())}, weighted)
    assert torch.allclose(terms["total"], without_id + terms["id"])
    assert _nonzero(_grads(terms["id"], aii))  # through Y into the AII


def test_identity_judges_join_l_id_with_gradients_into_the_swap_only(setup):
    from infoswap.recognition.registry import load_identity_judge

    model, D, x_s, x_t = setup
    model.cfg = tiny_config(beta_id=1.0, identity_judges=("mobileface",))
    judge = load_identity_judge("mobileface")
    terms = generator_losses(model, D, x_s, x_t, generator=torch.Generator().manual_seed(0), judges=[judge])
    plain = generator_losses(model, D, x_s, x_t, generator=torch.Generator().manual_seed(0))
    assert torch.equal(terms["id_f"], plain["id"])  # f's own term is unchanged
    assert 0 < float(terms["id_mobileface"].detach()) < 2
    assert torch.allclose(terms["id"], (terms["id_f"] + terms["id_mobileface"]) / 2)
    assert _nonzero(_grads(terms["id_mobileface"], list(model.aii.parameters())))  # through Y
    assert not any(p.requires_grad for p in judge.parameters())


def test_perceptual_loss_counts_a_light_decoders_enlarged_level_once():
    torch.manual_seed(0)
    model = InfoSwap(tiny_config(light_decoder=True), TinyRecognizer())
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    maps = model.attribute_maps(model.encode(x).taps, [torch.rand(2, 1, 1, 1)] * 10, model.noise(2))
    attrs_y, attrs_t = model.decoder.attributes(maps, x), [a + 0.1 * torch.randn_like(a) for a in
                                                            model.decoder.attributes(maps, x.flip(0))]
    assert attrs_y[-1] is attrs_y[-2]  # the finest level is the one below, enlarged by the AII
    distinct = [torch.nn.functional.mse_loss(a, b) for a, b in zip(attrs_y[:-1], attrs_t[:-1])]
    assert torch.allclose(losses.perceptual_loss(attrs_y, attrs_t), torch.stack(distinct).mean())


def test_training_steps_keep_the_running_mean_of_a_centred_identity_input(setup):
    model, D, x_s, x_t = setup
    model.cfg = tiny_config(identity_input="centred")
    centred = InfoSwap(model.cfg, model.recognizer)
    centred.load_state_dict(model.state_dict(), strict=False)
    for _ in range(2):
        generator_losses(centred, D, x_s, x_t, generator=torch.Generator().manual_seed(0))
    assert int(centred.aii.identity_batches) == 2 and centred.aii.identity_mean.abs().sum() > 0
    assert all(p.grad is None for p in model.recognizer.parameters())


def test_centring_needs_statistics_with_the_mean_embedding(setup):
    model = setup[0]
    shapes = model.tap_shapes
    stats = TapStatistics([torch.zeros(s) for s in shapes], [torch.ones(s) for s in shapes],
                          [torch.ones(s) for s in shapes], "tiny", 32, 3)
    model.cfg = tiny_config(identity_centre=True)
    with pytest.raises(InfoswapError, match="recalibrate"):
        install_statistics(model, stats)
    stats.identity_mean = torch.full_like(model.embedding_mean, 0.25)
    install_statistics(model, stats)
    assert torch.equal(model.embedding_mean, stats.identity_mean)
    assert "embedding_mean" not in model.state_dict()  # weights files keep their keys


def test_relativistic_losses_match_their_definition_and_stay_finite():
    fake, real = torch.tensor([0.3, -2.0, 50.0]), torch.tensor([1.0, 0.5, -60.0])
    reference_g = -torch.log(torch.sigmoid(fake[:2] - real[:2])).mean()
    assert torch.allclose(generator_adversarial_loss(fake[:2], real[:2]), reference_g)
    reference_d = -torch.log(torch.sigmoid(real[:2] - fake[:2])).mean()
    assert torch.allclose(discriminator_adversarial_loss(real[:2], fake[:2]), reference_d)
    extreme_d = discriminator_adversarial_loss(real, fake)  # log σ(−110) underflows in the naive form
    assert torch.isfinite(extreme_d) and extreme_d > 30
    even = generator_adversarial_loss(torch.zeros(3), torch.zeros(3))
    assert math.isclose(float(even), math.log(2), rel_tol=1e-6)


def test_weights_apply_in_one_place():
    cfg = tiny_config()
    ones = {k: torch.tensor(1.0) for k in ("info", "recog", "icl", "adv", "per", "cyc", "id")}
    ib, overall = total(ones, cfg)
    assert float(ib) == 1 + 5 * 2 and float(overall) == 11 + 1 + 5 + 1  # L_id off by default (as printed)
    ib, overall = total(ones, tiny_config(alpha=2.0, beta=1.0, beta1=0.0, beta2=0.0, beta3=3.0, beta_id=2.0))
    assert float(ib) == 4 and float(overall) == 7 + 2


def test_discriminator_loss_trains_d_and_leaves_the_swap_alone(setup):
    model, D, x_s, x_t = setup
    y = generator_losses(model, D, x_s, x_t, generator=torch.Generator().manual_seed(0))["Y"]
    loss = discriminator_loss(D, x_s, y)["D"]
    assert _nonzero(_grads(loss, list(D.parameters())))
    assert all(g is None for g in _grads(loss, list(model.aii.parameters())))


def test_r1_penalty_is_the_squared_input_gradient_of_d_at_real_faces():
    torch.manual_seed(0)
    D = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 1))
    real = torch.rand(2, 3, 4, 4)
    terms = discriminator_loss(D, real, torch.rand(2, 3, 4, 4), r1=True)
    assert set(terms) == {"D", "R1"} and set(discriminator_loss(D, real, real)) == {"D"}
    r1 = terms["R1"]
    weight = D[1].weight
    assert torch.allclose(r1, weight.square().sum())  # ∇x D(x) is D's weight row for every face
    (grad,) = torch.autograd.grad(r1, weight)
    assert torch.allclose(grad, 2 * weight)  # the penalty trains D
    assert not real.requires_grad  # the faces themselves are left as they were
