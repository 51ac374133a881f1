"""One optimisation of Algorithm 1's generator objective on a fixed batch of two real bundled faces.

Set-up choices (measured on preset 128 with the real dlib recogniser, see the E2 report):
- Each face is swapped onto itself (x_t = x_s, FaceShifter's reconstruction pairs). In a cross swap the ICL
  asks the face to change while L_per asks it to stay, and L_per did not fall in 40 steps while L_cyc did.
- β1 = 0: on two images a fresh discriminator wins within a few steps and its gradient then dominates the
  generator (|Y − x_t| stayed at 0.4–0.5 after 50 steps with β1 = 1, at any D learning rate tried). The
  adversarial losses and D's step are tested in test_losses.py.
- Test learning rates: 1e-3 for decoder + AII, 1e-4 for the IIB, so λ does not reshape the attribute maps
  under the decoder faster than it can follow.
"""

from __future__ import annotations

import pytest
import torch

from infoswap.config import preset
from infoswap.model.infoswap import InfoSwap
from infoswap.recognition.registry import load_recognizer
from infoswap.train.losses import generator_losses
from model_fixtures import TinyRecognizer, real_faces, tiny_config

FACES = ("london_006/neutral", "london_021/neutral")
CALIBRATION = ("london_006/smiling", "london_021/smiling", "london_024/neutral", "london_025/neutral",
               "lisa/1", "lisa/2", "london_036/neutral", "london_038/neutral")


def _overfit(model: InfoSwap, faces: torch.Tensor, calibration: torch.Tensor, steps: int) -> list[dict]:
    with torch.no_grad():
        _, taps = model.recognizer.features(calibration)
    model.iib.set_statistics([r.mean(0) for r in taps], [r.std(0) for r in taps],
                             [(r > 0).float().mean(0) for r in taps])
    generator_parts = list(model.decoder.parameters()) + list(model.aii.parameters())
    opt = torch.optim.Adam([{"params": model.iib.parameters(), "lr": 1e-4}, {"params": generator_parts}],
                           lr=1e-3, betas=(0.5, 0.999))
    g = torch.Generator().manual_seed(0)
    history = []
    for _ in range(steps):
        terms = generator_losses(model, None, faces, faces, generator=g)
        opt.zero_grad()
        terms["total"].backward()
        opt.step()
        history.append({k: v.item() for k, v in terms.items() if k != "Y"})
    return history


def _check(history: list[dict[str, float]]) -> None:
    start, end = history[0], {k: sum(h[k] for h in history[-5:]) / 5 for k in history[0]}
    assert end["per"] < start["per"] / 2, (start["per"], end["per"])
    assert end["cyc"] < start["cyc"] / 2, (start["cyc"], end["cyc"])
    assert end["info"] < start["info"]  # λ leaves sigmoid(5)
    assert max(h["recog"] for h in history) < 0.05


def test_overfit_fast_variant_with_the_tiny_recogniser():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 32 px convs: a second thread only adds overhead (10x slower on a busy machine)
    try:
        torch.manual_seed(0)
        model = InfoSwap(tiny_config(beta1=0.0), TinyRecognizer())
        _check(_overfit(model, real_faces(FACES, 32), real_faces(CALIBRATION, 32), steps=60))
    finally:
        torch.set_num_threads(threads)


@pytest.mark.slow
def test_overfit_100_steps_with_dlib_at_preset_128():
    torch.manual_seed(0)
    cfg = preset(128)
    cfg.beta1 = 0.0
    model = InfoSwap(cfg, load_recognizer("dlib"))
    _check(_overfit(model, real_faces(FACES, 128), real_faces(CALIBRATION, 128), steps=100))
