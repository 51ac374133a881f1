"""The short kill-and-resume soak (issue 14): three SIGKILLs of `infoswap train`, one of them mid-way through
a checkpoint write, one at a random moment after a checkpoint, one during start-up; then a resume to the end.

`tests/test_train.py` already kills once after a complete checkpoint; this adds the kill during the write
and a chain of resumes, through `tools/soak_resume.py` (the long version: `--kills 9`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from soak_resume import soak  # noqa: E402

SCHEDULE = ["write", "step", "startup"]


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory):
    return soak(tmp_path_factory.mktemp("soak"), kills=len(SCHEDULE), steps=6, snapshot_every=2, seed=0,
                schedule=SCHEDULE)


@pytest.mark.slow
def test_every_kill_leaves_only_readable_checkpoints(result) -> None:
    assert len(result.kills) == len(SCHEDULE), result.kills
    assert result.kills[0].startswith("mid-write of .tmp"), result.kills
    assert result.problems == [], result.problems


@pytest.mark.slow
def test_the_resumed_run_ends_bit_exact(result) -> None:
    """Weights (generator, EMA, statistics), D, both optimisers, step, data position and the noise stream."""
    assert result.bit_exact, result.differing


@pytest.mark.slow
def test_the_saved_global_rng_streams_match(result) -> None:
    assert result.global_rng == [], result.global_rng


def test_a_resume_removes_what_a_killed_safetensors_write_left(tmp_path: Path) -> None:
    from infoswap.train.checkpoint import remove_stale_temps

    # What safetensors' save_file leaves when killed mid-write: run folders of infoswap versions that let it
    # write checkpoints may hold one (checkpoints are now written through our own ".tmp-…" names only).
    (tmp_path / ".tmpAb3xQ9").write_bytes(b"\0" * 1024)
    (tmp_path / ".tmp-network-snapshot-00000002.safetensors.41.0a1b2c3d").write_bytes(b"\0" * 1024)
    (tmp_path / "network-snapshot-00000001.safetensors").write_bytes(b"\0" * 1024)
    assert remove_stale_temps(tmp_path) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["network-snapshot-00000001.safetensors"]
