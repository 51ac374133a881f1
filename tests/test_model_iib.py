"""IIB: initialisation (λ ≈ 0.993, Z ≈ R, z̃_id ≈ z_id), the KL information loss, smoothing, statistics."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from infoswap.config import preset
from infoswap.model.iib import IIB, GaussianSmoothing, compressed_identity, information_loss, recognition_loss
from infoswap.model.infoswap import InfoSwap
from infoswap.recognition.registry import load_recognizer
from model_fixtures import TinyRecognizer, real_faces, tiny_config

SIGMOID_5 = 1 / (1 + math.exp(-5))


def _calibrate(model: InfoSwap, faces: torch.Tensor) -> None:
    """Element-wise statistics of the taps over `faces`, as `infoswap calibrate` will install them."""
    with torch.no_grad():
        _, taps = model.recognizer.features(faces)
    shares = [(r > 0).float().mean(0) for r in taps]
    model.iib.set_statistics([r.mean(0) for r in taps], [r.std(0) for r in taps], shares)


def test_initialisation_keeps_everything_tiny():
    torch.manual_seed(0)
    model = InfoSwap(tiny_config(), TinyRecognizer())
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    _calibrate(model, torch.rand(16, 3, 32, 32) * 2 - 1)
    enc = model.encode(x, generator=torch.Generator().manual_seed(1))
    for lam in enc.lambdas:
        assert torch.allclose(lam, torch.full_like(lam, SIGMOID_5), atol=1e-6)
    z = model.iib.bottleneck(enc.taps, enc.lambdas, torch.Generator().manual_seed(2))
    for r, zi in zip(enc.taps, z):
        assert (zi - r).norm() < 0.05 * r.norm()  # 1 − λ ≈ 0.7% of noise
    assert F.cosine_similarity(enc.z_tilde, enc.z_id).min() > 0.99
    assert recognition_loss(enc.z_tilde, enc.z_id) < 0.01


def test_initialisation_with_dlib_on_real_faces_calibrated():
    model = InfoSwap(preset(128), load_recognizer("dlib"))
    faces = real_faces(("london_006/neutral", "london_006/smiling", "london_021/neutral", "london_024/neutral",
                        "london_025/smiling", "lisa/1"), 128)
    _calibrate(model, faces)
    with torch.no_grad():
        enc = model.encode(faces[:3], generator=torch.Generator().manual_seed(0))
    assert all(torch.allclose(lam, torch.full_like(lam, SIGMOID_5), atol=1e-6) for lam in enc.lambdas)
    assert F.cosine_similarity(enc.z_tilde, enc.z_id).min() > 0.99


def test_kl_matches_the_closed_form_of_torch_distributions():
    g = torch.Generator().manual_seed(0)
    r = torch.randn(2000, generator=g) * 3 + 1
    mu, sigma = torch.randn(2000, generator=g), torch.rand(2000, generator=g) + 0.1
    logit = torch.rand(2000, generator=g) * 10 - 5
    lam = torch.sigmoid(logit)
    ours = information_loss((r - mu) / sigma, lam, F.logsigmoid(-logit))
    p = Normal(lam * r + (1 - lam) * mu, (1 - lam) * sigma)
    reference = kl_divergence(p, Normal(mu, sigma))
    assert torch.allclose(ours, reference, rtol=1e-4, atol=1e-5)
    assert (ours >= 0).all()


def test_kl_matches_monte_carlo():
    g = torch.Generator().manual_seed(1)
    r, mu, sigma, lam = 1.7, 0.3, 0.8, 0.6
    p, q = Normal(lam * r + (1 - lam) * mu, (1 - lam) * sigma), Normal(mu, sigma)
    z = p.loc + p.scale * torch.randn(400_000, generator=g)
    monte_carlo = (p.log_prob(z) - q.log_prob(z)).mean()
    ours = information_loss(torch.tensor((r - mu) / sigma), torch.tensor(lam), torch.tensor(math.log(1 - lam)))
    assert abs(float(ours) - float(monte_carlo)) < 0.01


def test_kl_is_zero_without_information_and_finite_at_the_clamp():
    r_hat = torch.zeros(10)  # R = µ
    assert torch.equal(information_loss(r_hat, torch.zeros(10), torch.zeros(10)), torch.zeros(10))
    logit = torch.full((10,), 5.0)
    r_hat = torch.linspace(-20, 20, 10)
    at_clamp = information_loss(r_hat, torch.sigmoid(logit), F.logsigmoid(-logit))
    assert torch.isfinite(at_clamp).all() and (at_clamp > 0).all()
    half = information_loss(r_hat.half(), torch.sigmoid(logit.half()), F.logsigmoid(-logit.half()))
    assert half.dtype == torch.float16 and torch.isfinite(half).all()
    assert torch.allclose(half.float(), at_clamp, rtol=5e-3)
    lam = torch.full((3,), 1e-3)
    tiny = information_loss(torch.ones(3).half(), lam.half(), torch.log1p(-lam).half())
    assert (tiny >= 0).all()


def test_iib_information_averages_active_units_only():
    shapes = [(2, 3, 3), (4, 2, 2)]
    iib = IIB(shapes, hidden=4)
    g = torch.Generator().manual_seed(0)
    iib.set_statistics([torch.randn(s, generator=g) for s in shapes],
                       [torch.rand(s, generator=g) + 0.5 for s in shapes],
                       [torch.rand(s, generator=g) > 0.3 for s in shapes])
    taps = [torch.randn(5, *s, generator=g) for s in shapes]
    logits = [torch.rand(5, *s, generator=g) * 10 - 5 for s in shapes]
    lambdas = [torch.sigmoid(r) for r in logits]
    expected = 0.0
    for i, (r, lam) in enumerate(zip(taps, lambdas)):
        mu, sigma, active = iib.statistics(i)
        kl = kl_divergence(Normal(lam * r + (1 - lam) * mu, (1 - lam) * sigma), Normal(mu, sigma))
        expected += (kl * active).mean() / 2
    assert torch.allclose(iib.information(taps, logits, lambdas), expected, rtol=1e-4)
    z = iib.bottleneck(taps, lambdas, g)
    assert all((zi[:, ~iib.statistics(i)[2]] == 0).all() for i, zi in enumerate(z))


def test_smoothing_kernel_1_is_the_identity_and_3_is_not():
    lam = torch.rand(2, 4, 7, 7)
    assert torch.equal(GaussianSmoothing(1, 0.25)(lam), lam)
    blurred = GaussianSmoothing(3, 1.0)(lam)
    assert not torch.allclose(blurred, lam, atol=1e-3)
    assert blurred.shape == lam.shape and blurred.std() < lam.std()
    constant = torch.full((1, 2, 2, 2), 0.7)  # smaller than the kernel: replicate padding copes
    assert torch.allclose(GaussianSmoothing(5, 2.0)(constant), constant)


def test_smoothed_controllers_keep_a_finite_information_loss():
    torch.manual_seed(0)
    model = InfoSwap(tiny_config(smooth_kernel=3, smooth_sigma=1.0), TinyRecognizer())
    for readout in model.iib.readouts:  # make r vary in space so the blur changes λ
        torch.nn.init.normal_(readout.net[-1].weight, std=5.0)
    enc = model.encode(torch.rand(2, 3, 32, 32) * 2 - 1, identity=False)
    raw = [torch.sigmoid(r) for r in enc.logits]
    assert any(not torch.allclose(a, b) for a, b in zip(enc.lambdas, raw))
    assert torch.isfinite(enc.information)


def test_noise_follows_the_installed_statistics():
    shapes = [(3, 4, 4)]
    iib = IIB(shapes, hidden=4)
    mean, std = torch.full(shapes[0], 2.0), torch.full(shapes[0], 0.5)
    iib.set_statistics([mean], [std], [torch.ones(shapes[0], dtype=torch.bool)])
    eps = iib.sample_noise(0, 4000, torch.Generator().manual_seed(0))
    assert abs(float(eps.mean()) - 2.0) < 0.01 and abs(float(eps.std()) - 0.5) < 0.01
    share = torch.full(shapes[0], 0.3)
    share[0] = 0.01  # non-zero in only 1% of the images: masked
    iib.set_statistics([mean], [std], [share])
    assert torch.equal(iib.statistics(0)[2], share > 0.01) and not iib.statistics(0)[2][0].any()
    with pytest.raises(ValueError, match=r"means\[0\] has shape"):
        iib.set_statistics([torch.zeros(3, 4, 5)], [std], [mean > 0])


def test_compressed_identity_is_the_mean_of_the_ten_continuations():
    rec = TinyRecognizer()
    _, taps = rec.features(torch.rand(2, 3, 32, 32) * 2 - 1)
    zs = [t + 0.1 * torch.randn_like(t) for t in taps]
    direct = torch.stack([rec.continue_from(i, z) for i, z in enumerate(zs)]).mean(0)
    assert torch.allclose(compressed_identity(rec, zs), direct, atol=1e-5)


def test_lambdas_equal_the_controllers_with_fewer_multiply_adds():
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    model = InfoSwap(tiny_config(smooth_kernel=3, smooth_sigma=1.0), TinyRecognizer())
    for readout in model.iib.readouts:  # λ varying in space and between readouts
        torch.nn.init.normal_(readout.net[-1].weight, std=1.0)
    _calibrate(model, torch.rand(16, 3, 32, 32) * 2 - 1)
    with torch.no_grad():
        _, taps = model.recognizer.features(torch.rand(3, 3, 32, 32) * 2 - 1)  # taps of 20, 10, 5 and 3 px
        with FlopCounterMode(display=False) as full:
            _, reference = model.iib.controllers(taps)
        with FlopCounterMode(display=False) as factored:
            lambdas = model.iib.lambdas(taps)
    assert len(lambdas) == len(reference)
    for lam, ref in zip(lambdas, reference):
        assert lam.shape == ref.shape and lam.is_contiguous()
        torch.testing.assert_close(lam, ref, rtol=0, atol=1e-6)
    assert factored.get_total_flops() < 0.6 * full.get_total_flops()
