"""`infoswap explain`: the IIB's λ maps of a bundled face, on the untrained test checkpoint of swap_fixtures.

A freshly initialised IIB has r = 5 everywhere, so every λ_i must come out as sigmoid(5) ≈ 0.993 (App. 1.1);
a trained checkpoint would show maps that differ across the face.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from infoswap.errors import InfoswapError
from infoswap.evaluate.explain import explain_photo, lambda_maps, render_grid
from infoswap.io.images import read_image
from swap_fixtures import GROUP, TARGET, checkpoint, run_cli, swapper

SIGMOID_5 = 1 / (1 + math.exp(-5))


def test_fresh_model_keeps_everything_at_every_tap():
    s = swapper()
    explanation = explain_photo(s.model, s.finder, read_image(TARGET).pixels)
    assert [m.shape for m in explanation.maps] == [shape[1:] for shape in s.model.tap_shapes]
    assert explanation.face.shape == (s.resolution, s.resolution, 3)
    for lam, mean in zip(explanation.maps, explanation.means):
        assert np.allclose(lam, SIGMOID_5, atol=1e-6) and mean == pytest.approx(SIGMOID_5, abs=1e-6)
    grid = render_grid(explanation)
    assert grid.ndim == 3 and grid.dtype == np.uint8 and grid.shape[1] > grid.shape[0]


def test_face_choice_and_wrong_inputs_are_named():
    s = swapper()
    group = read_image(GROUP).pixels
    with pytest.raises(InfoswapError, match="group.jpg: face index 7 out of range: image has 3 faces"):
        explain_photo(s.model, s.finder, group, face_index=7, label="group.jpg")
    with pytest.raises(InfoswapError, match="wall.png: no face found"):
        explain_photo(s.model, s.finder, group[:100, :100].copy(), label="wall.png")
    with pytest.raises(InfoswapError, match="aligned 128×128 RGB face"):
        lambda_maps(s.model, group[:64, :64])


def test_cli_writes_the_grid_and_prints_the_means(tmp_path, monkeypatch):
    from infoswap.swap import pretrained

    monkeypatch.setattr(pretrained, "load_generator", lambda *a, **k: (swapper().model, checkpoint()))
    out = tmp_path / "lambda.png"
    code, stdout, stderr = run_cli("explain", "--image", TARGET, "--checkpoint", checkpoint(), "--out", out)
    assert code == 0, stderr
    assert stdout.count("mean λ 0.993") == 10
    with Image.open(out) as image:
        assert image.format == "PNG" and image.width > 800

    code, _, stderr = run_cli("explain", "--image", TARGET, "--out", tmp_path / "lambda.jpg")
    assert code == 2 and "the heatmap grid is written as .png" in stderr
