"""`infoswap calibrate`: streaming statistics equal a direct numpy computation; mismatched ones are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from aligned_faces import write_aligned_faces
from infoswap.cli.app import app
from infoswap.errors import InfoswapError
from infoswap.recognition.registry import load_recognizer
from infoswap.train.calibrate import (RunningMoments, TapStatistics, load_statistics, save_statistics,
                                      tap_statistics)
from infoswap.train.data import index_faces, load_face


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_aligned_faces(tmp_path_factory.mktemp("aligned"), size=128, count=7)[0].parent


def test_running_moments_merge_unequal_batches_exactly() -> None:
    x = torch.randn(23, 3, 2, 2, dtype=torch.float64) * 5 + 100  # offset: naive sum of squares would lose digits
    x[x < 100] = 0
    running = RunningMoments()
    for chunk in x.split([1, 10, 5, 7]):
        running.update(chunk)
    mean, std, active = running.result()
    ref = x.numpy()
    np.testing.assert_allclose(mean.numpy(), ref.mean(0), rtol=1e-6)
    np.testing.assert_allclose(std.numpy(), ref.std(0), rtol=1e-5)
    np.testing.assert_array_equal(active.numpy(), (ref != 0).mean(0).astype(np.float32))


def test_streamed_tap_statistics_equal_numpy_over_the_same_faces(faces: Path, tmp_path: Path) -> None:
    recognizer = load_recognizer("dlib")
    x = torch.stack([load_face(p, 128) for p in index_faces(faces).files])  # (7, 3, 128, 128)
    stats = tap_statistics(x.split(3), recognizer, 128, "dlib")
    with torch.no_grad():
        z_id, taps = recognizer.features(x)
    assert stats.count == 7 and len(stats.mean) == 10
    np.testing.assert_allclose(stats.identity_mean.numpy(), z_id.double().numpy().mean(0), rtol=1e-5, atol=1e-6)
    for i, r in enumerate(taps):
        ref = r.double().numpy()
        np.testing.assert_allclose(stats.mean[i].numpy(), ref.mean(0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(stats.std[i].numpy(), ref.std(0), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(stats.active[i].numpy(), (ref != 0).mean(0), atol=1e-7)
    assert any(float(a.min()) == 0.0 for a in stats.active)  # post-ReLU taps have dead elements
    path = tmp_path / "stats.safetensors"
    save_statistics(path, stats)
    back = load_statistics(path, "dlib", 128)
    assert back.count == 7 and all(torch.equal(a, b) for a, b in zip(back.std, stats.std))
    assert torch.equal(back.identity_mean, stats.identity_mean)


def test_statistics_for_another_recogniser_or_resolution_are_refused(tmp_path: Path) -> None:
    shapes = [(2, 3, 3)] * 10
    made = TapStatistics([torch.zeros(s) for s in shapes], [torch.ones(s) for s in shapes],
                         [torch.ones(s) for s in shapes], "irse50", 256, 5)
    path = tmp_path / "s.safetensors"
    save_statistics(path, made)
    with pytest.raises(InfoswapError, match="made for recogniser 'irse50', but this run uses 'dlib'"):
        load_statistics(path, "dlib", 256)
    with pytest.raises(InfoswapError, match="made at resolution 256, but this run uses 128"):
        load_statistics(path, "irse50", 128)
    assert load_statistics(path, "irse50", 256).count == 5
    assert load_statistics(path).identity_mean is None  # files made before the mean embedding still load


def test_cli_writes_statistics_with_their_provenance(faces: Path, tmp_path: Path) -> None:
    out = tmp_path / "stats.safetensors"
    result = CliRunner().invoke(app, ["calibrate", "--data", str(faces), "--num", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    stats = load_statistics(out)
    assert (stats.recognizer, stats.resolution, stats.count) == ("dlib", 128, 4)
    assert not list(tmp_path.glob(".tmp-*"))
