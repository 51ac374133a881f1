"""Training pairs from a folder of aligned faces (made by `infoswap align`): indexing, pair stream, loader.

The data order is a pure function of (seed, position): position p of the global stream falls in epoch
p // n at slot p % n, and each epoch draws two independent permutations (sources, targets) and the flip
bits from a generator seeded by (seed, epoch). So a resumed run, any number of loader workers and any
DDP world size see exactly the same pairs; rank r of W takes its contiguous slice of each global batch.
"""

from __future__ import annotations

import csv
import signal
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler

from infoswap.errors import InfoswapError
from infoswap.io.images import IMAGE_SUFFIXES, read_image

MANIFEST = "manifest.csv"
PATH_COLUMN = "crop"  # `infoswap align` (faces/align_folder.py): the crop's path inside the folder
_ALIGN_HINT = "prepare aligned faces with `infoswap align PHOTOS_DIR OUT_DIR --size N` and train on OUT_DIR"


@dataclass
class FaceIndex:
    """The usable aligned faces of a folder, and the files that were skipped with the reason."""

    root: Path
    files: list[Path]
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.files)


def _manifest_paths(root: Path) -> list[str]:
    with open(root / MANIFEST, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or PATH_COLUMN not in reader.fieldnames:
            raise InfoswapError(f"{root / MANIFEST}: has no {PATH_COLUMN!r} column, so it was not written by "
                                f"`infoswap align`; {_ALIGN_HINT}")
        return [row[PATH_COLUMN] for row in reader if row.get(PATH_COLUMN)]


def _check_image(path: Path) -> str | None:
    """Why `path` cannot be a training face, or None. Cheap: verifies the file without decoding pixels."""
    if not path.is_file():
        return "missing"
    try:
        with Image.open(path) as image:
            width, height = image.size
            image.verify()
    except Exception as e:  # Pillow raises many types for damaged files
        return f"unreadable ({type(e).__name__})"
    if width != height:
        return f"not square ({width}×{height}), so not an aligned face"
    return None


def index_faces(root: str | Path) -> FaceIndex:
    """Lists the aligned faces named in root/manifest.csv; damaged or missing files are skipped and counted.

    Raises InfoswapError for a missing or empty folder, a folder of photos without a manifest (pointing to
    `infoswap align`), and fewer than two usable faces.
    """
    root = Path(root)
    if not root.is_dir():
        raise InfoswapError(f"--data {root}: no such folder")
    if not (root / MANIFEST).is_file():
        photos = [p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES]
        if photos:
            raise InfoswapError(f"--data {root}: holds {len(photos)} image(s) but no {MANIFEST}, so these are not "
                                f"aligned faces; {_ALIGN_HINT}")
        raise InfoswapError(f"--data {root}: the folder is empty (no {MANIFEST}, no images); {_ALIGN_HINT}")
    files, skipped = [], []
    for relative in _manifest_paths(root):
        path = root / relative
        problem = _check_image(path)
        if problem is None:
            files.append(path)
        else:
            skipped.append((path, problem))
    if len(files) < 2:
        detail = f" ({len(skipped)} damaged or missing file(s) skipped)" if skipped else ""
        raise InfoswapError(f"--data {root}: {len(files)} usable aligned face(s){detail}; training needs at least "
                            "2 (sources and targets are drawn from them)")
    return FaceIndex(root, files, skipped)


def load_face(path: Path, resolution: int) -> torch.Tensor:
    """An aligned face file -> (3, R, R) float32 RGB in [-1, 1], resized to R if needed."""
    pixels = read_image(path).pixels
    if pixels.shape[0] != resolution or pixels.shape[1] != resolution:
        shrink = pixels.shape[0] > resolution
        pixels = cv2.resize(pixels, (resolution, resolution),
                            interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    return torch.from_numpy(pixels).permute(2, 0, 1).float().div(127.5).sub(1.0)


class PairOrder:
    """Position p -> (source index, target index, source flip, target flip); see the module docstring."""

    def __init__(self, n: int, seed: int, flips: bool = True):
        self.n, self.seed, self.flips = n, seed, flips
        self._epoch: int | None = None
        self._table: torch.Tensor | None = None

    def _epoch_table(self, epoch: int) -> torch.Tensor:
        if epoch != self._epoch:
            mixed = int(np.random.SeedSequence([self.seed, epoch]).generate_state(1, np.uint64)[0] >> 1)
            g = torch.Generator().manual_seed(mixed)
            sources, targets = torch.randperm(self.n, generator=g), torch.randperm(self.n, generator=g)
            flip = torch.randint(0, 2, (self.n, 2), generator=g) * int(self.flips)
            self._table = torch.stack([sources, targets, flip[:, 0], flip[:, 1]], 1)  # (n, 4)
            self._epoch = epoch
        return self._table

    def __call__(self, position: int) -> tuple[int, int, bool, bool]:
        s, t, fs, ft = self._epoch_table(position // self.n)[position % self.n].tolist()
        return s, t, bool(fs), bool(ft)


class PairDataset(Dataset):
    """Map-style dataset indexed by stream position: item p is the pair (x_s, x_t), each (3, R, R)."""

    def __init__(self, index: FaceIndex, resolution: int, seed: int, flips: bool = True):
        self.index, self.resolution = index, resolution
        self.order = PairOrder(len(index), seed, flips)

    def _face(self, i: int) -> torch.Tensor:
        # A file that passed the up-front check but fails to decode is replaced by the next one that
        # decodes: deterministic, so resume and DDP still agree.
        n = len(self.index)
        for offset in range(n):
            path = self.index.files[(i + offset) % n]
            try:
                return load_face(path, self.resolution)
            except InfoswapError as e:
                warnings.warn(f"skipping {path}: {e}", stacklevel=2)
        raise InfoswapError(f"--data {self.index.root}: no aligned face in the folder could be decoded")

    def __getitem__(self, position: int) -> tuple[torch.Tensor, torch.Tensor]:
        s, t, flip_s, flip_t = self.order(position)
        x_s, x_t = self._face(s), self._face(t)
        return (x_s.flip(-1) if flip_s else x_s), (x_t.flip(-1) if flip_t else x_t)


class ShardedBatchSampler(Sampler[list[int]]):
    """Endless batches of stream positions for one rank: global batch k covers positions
    start + k·b·W … + b·W − 1, and rank r takes the slice [r·b, (r + 1)·b) of it."""

    def __init__(self, batch_per_rank: int, rank: int = 0, world: int = 1, start: int = 0):
        self.batch, self.rank, self.world, self.start = batch_per_rank, rank, world, start

    def __iter__(self) -> Iterator[list[int]]:
        first = self.start + self.rank * self.batch
        while True:
            yield list(range(first, first + self.batch))
            first += self.batch * self.world


def _ignore_stop_signals(worker_id: int) -> None:
    """Workers leave SIGINT / SIGTERM to the main process, which checkpoints and then shuts them down."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def pair_loader(dataset: PairDataset, batch_per_rank: int, rank: int = 0, world: int = 1, start: int = 0,
                num_workers: int = 0) -> DataLoader:
    """An endless loader of (x_s, x_t) batches (b, 3, R, R) starting at global stream position `start`.

    Its own generator, seeded from the run seed, gives the worker seed that each new iterator draws: from
    the global torch stream, that draw would leave a resumed run's global RNG one step ahead."""
    return DataLoader(dataset, batch_sampler=ShardedBatchSampler(batch_per_rank, rank, world, start),
                      num_workers=num_workers, worker_init_fn=_ignore_stop_signals if num_workers else None,
                      generator=torch.Generator().manual_seed(dataset.order.seed))
