"""Checkpoints: pickle-free round trip of training state, atomicity under a real SIGKILL, pruning."""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from infoswap.train import checkpoint as ckpt


def _adam_state() -> dict:
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=5e-5, betas=(0.001, 0.999), weight_decay=2e-5)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    return opt.state_dict()


def _assert_same(a, b) -> None:
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    else:
        assert a == b


def test_training_state_round_trip_restores_optimiser_and_every_rng(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(7)
    state = {
        "step": 3, "position": 12, "optim": _adam_state(),
        "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
                "noise": g.get_state()},
        "scaler": {"scale": 65536.0, "_growth_tracker": 0}, "nothing": None,
    }
    path = tmp_path / "state.safetensors"
    ckpt.write_training_state(path, state)
    back = ckpt.read_training_state(path)
    _assert_same(state, back)
    # The restored states really reproduce the streams.
    np.random.set_state(back["rng"]["numpy"])
    random.setstate(back["rng"]["python"])
    expected = (np.random.rand(), random.random())
    np.random.set_state(state["rng"]["numpy"])
    random.setstate(state["rng"]["python"])
    assert (np.random.rand(), random.random()) == expected
    # No pickle anywhere: the header is plain JSON.
    assert "optim" in json.dumps(json.loads(ckpt._read_safetensors(path)[1]["structure"]))


def test_network_snapshot_carries_config_and_groups(tmp_path: Path) -> None:
    groups = {"model": {"a.weight": torch.randn(2, 3)}, "stats": {"mean.0": torch.zeros(4)}}
    path = tmp_path / "net.safetensors"
    ckpt.write_network_snapshot(path, groups, {"resolution": 128, "widths": [1, 2]}, {"recognizer": "dlib"})
    back, config, meta = ckpt.read_network_snapshot(path)
    assert config == {"resolution": 128, "widths": [1, 2]} and meta["recognizer"] == "dlib"
    _assert_same(groups, back)


def _save(run_dir: Path, step: int, keep: int = 0) -> ckpt.Checkpoint:
    groups = {"model": {"w": torch.full((64, 64), float(step))}}
    return ckpt.save_checkpoint(run_dir, step, groups, {"step": step}, {"step": step}, keep=keep)


# Saves step 1, then dies by SIGKILL at the named point while saving step 2.
_KILLER = textwrap.dedent("""
    import os, signal, sys, torch
    from infoswap.train import checkpoint as ckpt
    run_dir, point = sys.argv[1], sys.argv[2]
    groups = lambda s: {"model": {"w": torch.full((64, 64), float(s))}}
    ckpt.save_checkpoint(run_dir, 1, groups(1), {"step": 1}, {"step": 1})
    die = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
    if point == "mid-file":
        def partial(file, mode, *args, **kwargs):  # the temp file gets a few bytes, then the writer dies
            f = open(file, mode, *args, **kwargs)
            f.write(b"half a header")
            f.flush()
            die()
        ckpt.open = partial  # shadows the builtin inside the checkpoint module only
    elif point == "before-state":
        ckpt.write_training_state = die
    elif point == "before-marker":
        ckpt.atomic_write_text = die
    ckpt.save_checkpoint(run_dir, 2, groups(2), {"step": 2}, {"step": 2})
""")


@pytest.mark.parametrize("point", ["mid-file", "before-state", "before-marker"])
def test_a_killed_write_leaves_the_previous_checkpoint_readable(tmp_path: Path, point: str) -> None:
    proc = subprocess.run([sys.executable, "-c", _KILLER, str(tmp_path), point], capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    found = ckpt.latest_complete(tmp_path)
    assert found is not None and found.step == 1
    groups, config, _ = ckpt.read_network_snapshot(found.network)
    assert torch.equal(groups["model"]["w"], torch.full((64, 64), 1.0)) and config == {"step": 1}
    assert ckpt.read_training_state(found.state) == {"step": 1}
    if point == "mid-file":
        assert ckpt.remove_stale_temps(tmp_path) == 1
        assert not any(ckpt.TEMP_MARK in p.name for p in tmp_path.iterdir())


def test_a_failed_write_names_the_file_and_leaves_no_temp(tmp_path: Path, monkeypatch) -> None:
    from infoswap.errors import InfoswapError

    def full_disk(file, mode):  # the temp file is created and partly written, then the disk is full
        with open(file, mode) as f:
            f.write(b"part of a header")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ckpt, "open", full_disk, raising=False)
    with pytest.raises(InfoswapError, match=r"net\.safetensors: cannot write \(No space left on device\); the disk"):
        ckpt.write_network_snapshot(tmp_path / "net.safetensors", {"model": {"w": torch.zeros(3)}}, {})
    assert list(tmp_path.iterdir()) == []


def test_latest_complete_skips_mismatched_and_broken_markers(tmp_path: Path) -> None:
    _save(tmp_path, 1)
    newest = _save(tmp_path, 2)
    assert ckpt.latest_complete(tmp_path).step == 2
    newest.state.write_bytes(newest.state.read_bytes()[:-1] + b"\0")  # silent corruption
    assert ckpt.latest_complete(tmp_path).step == 1
    (tmp_path / ckpt.marker_name(3)).write_text("{not json")
    (tmp_path / ckpt.marker_name(4)).write_text(json.dumps(
        {"step": 4, "network": {"file": "../elsewhere", "sha256": "0"}, "state": {"file": "x", "sha256": "0"}}))
    assert ckpt.latest_complete(tmp_path).step == 1


def test_keep_prunes_the_oldest_checkpoints(tmp_path: Path) -> None:
    for step in range(1, 5):
        _save(tmp_path, step, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [ckpt.marker_name(s) for s in (3, 4)] + [ckpt.network_name(s) for s in (3, 4)]
        + [ckpt.state_name(s) for s in (3, 4)])
    assert ckpt.latest_complete(tmp_path).step == 4
