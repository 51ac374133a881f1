"""The shipped demo checkpoint (issue 10): it loads by name, keeps the target's face, and (not yet) moves the
independent recogniser's identity of the target towards the source, on two bundled identities that training
never saw."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from conftest import FACES
from infoswap.evaluate.judge import IndependentJudge
from infoswap.io.images import read_image
from infoswap.swap.pretrained import DEMO_CHECKPOINT, load_generator
from infoswap.swap.swapper import Swapper

HELD_OUT = ("london_008", "london_062")  # excluded from the training data (docs/training-data.md)
PAIRS = [HELD_OUT, HELD_OUT[::-1]]


@cache
def judged(source_id: str, target_id: str) -> dict[str, np.ndarray]:
    """faceres descriptors of the source, the target and the demo checkpoint's swap of the two."""
    judge = IndependentJudge()
    source = read_image(FACES / "identities" / source_id / "neutral.jpg").pixels
    target = read_image(FACES / "identities" / target_id / "smiling.jpg").pixels
    result = Swapper.from_pretrained().swap(source, target)
    assert result.faces == 1
    out = {}
    for name, image in (("source", source), ("target", target), ("swap", result.image)):
        faces, descriptors = judge.embed_faces(image)
        assert len(faces) == 1, f"{name}: {len(faces)} faces"
        out[name] = descriptors[0]
    return out


def test_the_default_checkpoint_is_the_shipped_preset_128_generator():
    model, path = load_generator(None)
    assert path.name == DEMO_CHECKPOINT
    assert model.cfg.resolution == 128 and model.cfg.recognizer == "dlib"
    assert not any(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("source_id, target_id", PAIRS)
def test_the_swap_keeps_the_target_face_recognisable(source_id, target_id):
    d = judged(source_id, target_id)
    assert float(d["swap"] @ d["target"]) > 0.7  # a face, and the target's: the generator rebuilds it


@pytest.mark.xfail(strict=True, reason="the 911-step demo checkpoint does not transfer identity yet "
                   "(docs/quality.md); flips when a better-trained checkpoint ships")
@pytest.mark.parametrize("source_id, target_id", PAIRS)
def test_swap_moves_identity_towards_an_unseen_source(source_id, target_id):
    d = judged(source_id, target_id)
    before, after = float(d["target"] @ d["source"]), float(d["swap"] @ d["source"])
    assert after > before + 0.05, f"cos to source: target {before:.3f}, swap {after:.3f}"
