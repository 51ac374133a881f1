"""Training data: folder checks with clear errors, damaged files skipped and counted, a data order that is a
pure function of (seed, position) so resume, loader workers and DDP shards all agree."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import cv2
import pytest
import torch

from aligned_faces import REPO, write_aligned_faces
from infoswap.errors import InfoswapError
from infoswap.train.data import PairDataset, PairOrder, index_faces, load_face, pair_loader


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_aligned_faces(tmp_path_factory.mktemp("aligned"), size=64, count=6)[0].parent


def _batches(dataset: PairDataset, n: int, **kw) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return list(islice(iter(pair_loader(dataset, **kw)), n))


def test_faces_load_in_range_and_resized(faces: Path) -> None:
    index = index_faces(faces)
    assert len(index) == 6 and not index.skipped
    x = load_face(index.files[0], 32)
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    assert -1.0 <= x.min() < -0.5 and 0.5 < x.max() <= 1.0


def test_damaged_files_are_skipped_and_counted(faces: Path, tmp_path: Path) -> None:
    for p in faces.iterdir():
        (tmp_path / p.name).write_bytes(p.read_bytes())
    pngs = sorted(tmp_path.glob("*.png"))
    pngs[0].write_bytes(pngs[0].read_bytes()[:200])  # truncated
    pngs[1].write_bytes(b"this is not a png")
    pngs[2].unlink()
    cv2.imwrite(str(pngs[3]), cv2.imread(str(pngs[3]))[:, :40])  # not square: not an aligned face
    index = index_faces(tmp_path)
    assert len(index) == 2 and len(index.skipped) == 4
    assert {p.name for p, _ in index.skipped} == {p.name for p in pngs[:4]}


def test_unusable_folders_say_why(faces: Path, tmp_path: Path) -> None:
    with pytest.raises(InfoswapError, match="no such folder"):
        index_faces(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InfoswapError, match="empty"):
        index_faces(empty)
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.jpg").write_bytes((REPO / "assets/faces/identities/lisa/1.jpg").read_bytes())
    with pytest.raises(InfoswapError, match="infoswap align"):
        index_faces(photos)
    one = tmp_path / "one"
    one.mkdir()
    first = sorted(faces.glob("*.png"))[0]
    (one / first.name).write_bytes(first.read_bytes())
    (one / "manifest.csv").write_text(f"crop\n{first.name}\n")
    with pytest.raises(InfoswapError, match="1 usable aligned face.*at least 2"):
        index_faces(one)


def test_each_epoch_uses_every_face_once_as_source_and_once_as_target() -> None:
    order = PairOrder(10, seed=3)
    epoch = [order(p) for p in range(10, 20)]
    assert sorted(s for s, _, _, _ in epoch) == list(range(10))
    assert sorted(t for _, t, _, _ in epoch) == list(range(10))
    assert [s for s, *_ in epoch] != [t for _, t, *_ in epoch]  # independent permutations
    flips = [f for _, _, fs, ft in epoch for f in (fs, ft)]
    assert any(flips) and not all(flips)
    assert [order(p) for p in range(10, 20)] == epoch == [PairOrder(10, seed=3)(p) for p in range(10, 20)]
    assert [PairOrder(10, seed=4)(p) for p in range(10, 20)] != epoch


def test_flip_is_a_horizontal_mirror(faces: Path) -> None:
    dataset = PairDataset(index_faces(faces), 32, seed=0)
    p = next(p for p in range(50) if dataset.order(p)[2])
    s = dataset.order(p)[0]
    assert torch.equal(dataset[p][0], load_face(dataset.index.files[s], 32).flip(-1))


def test_resume_workers_and_ranks_see_the_same_stream(faces: Path) -> None:
    dataset = PairDataset(index_faces(faces), 32, seed=1)
    whole = _batches(dataset, 4, batch_per_rank=4)  # 16 positions, crossing epoch boundaries (n = 6)
    resumed = _batches(dataset, 2, batch_per_rank=4, start=8)
    for a, b in zip(whole[2:], resumed):
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    workers = _batches(dataset, 2, batch_per_rank=4, num_workers=1)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(whole, workers))
    rank0 = _batches(dataset, 2, batch_per_rank=2, rank=0, world=2)
    rank1 = _batches(dataset, 2, batch_per_rank=2, rank=1, world=2)
    for k in range(2):
        assert torch.equal(torch.cat([rank0[k][0], rank1[k][0]]), whole[k][0])
        assert torch.equal(torch.cat([rank0[k][1], rank1[k][1]]), whole[k][1])


def test_the_loader_leaves_the_global_torch_stream_alone(faces: Path) -> None:
    """A resume restores the global RNG and then makes a loader: drawing from it there would put every
    resumed run one draw ahead of the uninterrupted one."""
    dataset = PairDataset(index_faces(faces), 32, seed=1)
    before = torch.get_rng_state()
    _batches(dataset, 1, batch_per_rank=2)
    assert torch.equal(torch.get_rng_state(), before)
