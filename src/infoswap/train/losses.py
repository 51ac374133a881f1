"""Every loss of App. Alg. 1 (SPEC section 7, steps 1–7) as a small function; the weights live in `total`.

The loop calls `generator_losses` (all generator-side terms by name, "total" and the swap Y), steps
IIB + decoder + AII, then calls `discriminator_loss` and steps D.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from infoswap.model.discriminator import discriminator_adversarial_loss, generator_adversarial_loss
from infoswap.model.iib import identity_cosine, recognition_loss

if TYPE_CHECKING:
    from infoswap.config import ModelConfig
    from infoswap.model.infoswap import InfoSwap


def call_frozen(module: nn.Module, *args: torch.Tensor) -> torch.Tensor:
    """`module(*args)` with its parameters detached: gradients reach the inputs, never the parameters.

    App. Alg. 1 lines 38–40 (RequiresGrad False, then True) without touching shared module state.
    """
    params = {name: p.detach() for name, p in module.named_parameters()}
    return functional_call(module, params, args)


def icl_losses(
    z_y: torch.Tensor, z_s: torch.Tensor, z_t: torch.Tensor, neg_against: str = "target",
    centre: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_pos, L_neg) of App. Alg. 1 lines 26–27; `neg_against` picks z̃_tid (ours) or z̃_sid (as printed).

    `centre` (D,): cosines of the embeddings minus it (`ModelConfig.identity_centre`).
    """
    pos = -identity_cosine(z_y, z_s, centre).mean()
    other = z_t if neg_against == "target" else z_s
    neg = (identity_cosine(z_y, other, centre) - identity_cosine(z_s, z_t, centre)).square().mean()
    return pos, neg


def identity_losses(
    z_id_y: torch.Tensor, z_id_s: torch.Tensor, centre: torch.Tensor | None, judges: Sequence[nn.Module],
    y: torch.Tensor, x_s: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """L_id = mean over f and each judge g of 1 − cos(g(Y), g(x_s)) ("id"), and with judges each part
    ("id_f", "id_<judge name>"). f's cosines are centred as configured; the judges' are not (MobileFace's
    embeddings of different people are near orthogonal already: mean cosine 0.05 on the bundled faces)."""
    parts = {"id_f": (1 - identity_cosine(z_id_y, z_id_s, centre).float()).mean()}
    for judge in judges:
        with torch.no_grad():
            e_s = judge(x_s)
        parts[f"id_{judge.name}"] = (1 - identity_cosine(judge(y), e_s).float()).mean()
    out = {"id": torch.stack(list(parts.values())).mean()}
    return out | parts if judges else out


def perceptual_loss(decoded_y: list[torch.Tensor], decoded_t: list[torch.Tensor]) -> torch.Tensor:
    """L_per: mean over levels of the mean squared error between dec(f(Y)) and f̃^t (App. Alg. 1 line 36).

    The caller decides whether f̃^t carries a gradient (`ModelConfig.per_detach_target`). A light decoder's
    finest level is the level below it, the same map (model/decoder.py): it counts once.
    """
    pairs = [(a, b) for k, (a, b) in enumerate(zip(decoded_y, decoded_t)) if k == 0 or a is not decoded_y[k - 1]]
    return torch.stack([F.mse_loss(a, b) for a, b in pairs]).mean()


def cycle_loss(
    model: InfoSwap, z_y: torch.Tensor, attrs_s: list[torch.Tensor], controls_s: list[torch.Tensor],
    x_s: torch.Tensor,
) -> torch.Tensor:
    """L_cyc = ‖x_s − AII(z̃_id(Y), f̃^s, λ̃^s)‖₁ (mean) with AII's parameters frozen, graph kept (lines 38–41)."""
    return (x_s - call_frozen(model.aii, z_y, attrs_s, controls_s)).abs().mean()


def total(terms: dict[str, torch.Tensor], cfg: ModelConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_IB, L_G_total): the only place the loss weights apply (App. Alg. 1 lines 29, 44; App. 1.1)."""
    ib = cfg.alpha * terms["info"] + cfg.beta * (terms["recog"] + terms["icl"])
    g = ib + cfg.beta1 * terms["adv"] + cfg.beta2 * terms["per"] + cfg.beta3 * terms["cyc"]
    return ib, g + cfg.beta_id * terms["id"]


def generator_losses(
    model: InfoSwap, D: nn.Module | None, x_s: torch.Tensor, x_t: torch.Tensor,
    generator: torch.Generator | None = None, judges: Sequence[nn.Module] = (),
) -> dict[str, torch.Tensor]:
    """Every generator-side term of App. Alg. 1 (lines 4–44) by name, plus "ib", "total" and the swap "Y".

    x_s, x_t: (B, 3, res, res) aligned faces in [−1, 1]. `generator` drives all noise draws. D = None
    leaves the adversarial term out (L_adv = 0), e.g. for a reconstruction-only warm-up. `judges`: the
    frozen recognisers of ModelConfig.identity_judges, each adding its own term to L_id.
    """
    batch = x_s.shape[0]
    centre = model.embedding_mean if model.cfg.identity_centre else None
    # (i)–(ii) f and the IIB on x_s ‖ x_t in one batch (lines 4–21).
    enc = model.encode(torch.cat([x_s, x_t]), generator=generator)
    taps_s, taps_t = zip(*(r.split(batch) for r in enc.taps))
    lam_s, lam_t = zip(*(lam.split(batch) for lam in enc.lambdas))
    z_s, z_t = enc.z_tilde.split(batch)
    model.aii.observe_identity(enc.z_tilde)
    terms = {"info": enc.information, "recog": recognition_loss(enc.z_tilde, enc.z_id, centre)}

    # (iii)–(iv) target attributes and the swap (lines 22–24); ε^s is kept for L_per.
    eps_s = model.noise(batch, generator)
    attrs_t, controls_t = model.decode(model.attribute_maps(taps_t, lam_t, eps_s), list(lam_t), x_t)
    y = model.aii(z_s, attrs_t, controls_t)

    # (v) ICL on Y with Y's own readouts (lines 25–28).
    enc_y = model.encode(y, information=False, generator=generator)
    terms["pos"], terms["neg"] = icl_losses(enc_y.z_tilde, z_s, z_t, model.cfg.icl_neg_against, centre)
    terms["icl"] = terms["pos"] + terms["neg"]
    # [ours] the whole recogniser's identity of Y against the source's (ModelConfig.beta_id); logged always.
    terms.update(identity_losses(enc_y.z_id, enc.z_id[:batch], centre, judges, y, x_s))

    # (vi) perceptual: Y's taps with the target's λ and the same ε^s, through dec (lines 30–36).
    attrs_y = model.decoder.attributes(model.attribute_maps(enc_y.taps, lam_t, eps_s), y)
    reference = [a.detach() for a in attrs_t] if model.cfg.per_detach_target else attrs_t
    terms["per"] = perceptual_loss(attrs_y, reference)

    # (vii) cycle: source attributes without grad, AII frozen with the graph kept (lines 37–41).
    with torch.no_grad():
        eps_t = model.noise(batch, generator)
        attrs_s, controls_s = model.decode(model.attribute_maps(taps_s, lam_s, eps_t), list(lam_s), x_s)
    terms["cyc"] = cycle_loss(model, enc_y.z_tilde, attrs_s, controls_s, x_s)

    # (viii) relativistic adversarial term; D's parameters get nothing from it (line 42).
    if D is None:
        terms["adv"] = y.new_zeros(())
    else:
        with torch.no_grad():
            real = D(x_s)
        terms["adv"] = generator_adversarial_loss(call_frozen(D, y), real)

    terms["ib"], terms["total"] = total(terms, model.cfg)
    terms["Y"] = y  # with its graph; discriminator_loss detaches it
    return terms


def discriminator_loss(D: nn.Module, x_s: torch.Tensor, y: torch.Tensor, r1: bool = False) -> dict[str, torch.Tensor]:
    """{"D": L_D = −E log σ(D(x_s) − D(Y))} with Y detached (App. Alg. 1 line 48), and with `r1` also
    "R1": E‖∇x D(x)‖² over the real faces x_s (Mescheder et al. 2018), from the same pass of D on them.
    R1 is differentiable in D's parameters: a D that is flat around the data cannot single out what the
    generator adds to it."""
    real = x_s.detach().requires_grad_(r1)
    on_real = D(real)
    terms = {"D": discriminator_adversarial_loss(on_real, D(y.detach()))}
    if r1:
        (grad,) = torch.autograd.grad(on_real.sum(), real, create_graph=True)
        terms["R1"] = grad.float().square().flatten(1).sum(1).mean()
    return terms
