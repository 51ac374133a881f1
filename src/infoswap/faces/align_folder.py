"""Prepares a training set: every face of every photo under a folder, aligned, as PNG crops + a manifest.

OUT_DIR/manifest.csv has one row per crop: crop (path in OUT_DIR), source (path in SRC_DIR), face_index
(left to right), box and landmarks (JSON lists, source pixels) and source_sha256. Photos with no face are
listed in OUT_DIR/no_face.csv (source, source_sha256), so that a re-run skips them too.

Crash safety: a crop is written to a hidden temporary name and renamed; a source's manifest rows are
appended in one write only after all its crops exist. A re-run skips every source whose sha256 is
already recorded, drops a partial last line a crash may have left, and redoes a source whose file
changed since (its old rows and crops are removed first).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from infoswap.errors import InfoswapError
from infoswap.faces.align import align_face
from infoswap.faces.face import Face
from infoswap.io.images import read_image

MANIFEST = "manifest.csv"
NO_FACE = "no_face.csv"
COLUMNS = ("crop", "source", "face_index", "box", "landmarks", "source_sha256")
NO_FACE_COLUMNS = ("source", "source_sha256")
SOURCE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")

Finder = Callable[[np.ndarray], list[Face]]


@dataclass
class AlignSummary:
    """What a run did; `line()` is the one-line report printed at the end."""

    size: int
    read: int = 0  # images decoded and searched for faces
    faces: int = 0  # crops written
    no_face: list[Path] = field(default_factory=list)
    done: int = 0  # sources skipped because their sha256 is already recorded
    bad: list[tuple[Path, str]] = field(default_factory=list)  # unreadable or failed files, with the reason
    notes: Counter[str] = field(default_factory=Counter)  # conversions reading did, e.g. "converted L to RGB"

    def line(self) -> str:
        text = f"read {_count(self.read, 'image')}, wrote {_count(self.faces, 'face')} ({self.size}×{self.size})"
        if self.no_face:
            text += f"; {_count(len(self.no_face), 'image')} had no face"
        skipped = self.done + len(self.bad)
        if skipped:
            reasons = [f"{self.done} already done"] if self.done else []
            reasons += [f"{len(self.bad)} unreadable or failed"] if self.bad else []
            text += f"; skipped {_count(skipped, 'file')} ({', '.join(reasons)})"
        if self.notes:
            text += "; " + ", ".join(f"{note} ({_count(n, 'image')})" for note, n in sorted(self.notes.items()))
        return text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def find_sources(src_dir: Path, exclude: Path | None = None) -> list[Path]:
    """Every jpg/jpeg/png/webp file under src_dir (recursive, sorted), leaving out the folder `exclude`."""
    found = []
    for folder, subfolders, files in os.walk(src_dir):
        here = Path(folder)
        subfolders[:] = sorted(d for d in subfolders if exclude is None or (here / d).resolve() != exclude)
        found += [here / name for name in sorted(files) if Path(name).suffix.lower() in SOURCE_SUFFIXES]
    return found


def crop_name(source: Path, face_index: int) -> Path:
    """The crop's path in OUT_DIR: the source's relative path, its file name kept whole (a.jpg vs a.png)."""
    return source.parent / f"{source.name}_{face_index}.png"


def _manifest_row(crop: Path, source: Path, face: Face, sha: str) -> list[str]:
    box = [round(float(v), 2) for v in face.box]
    landmarks = np.round(face.landmarks68.astype(np.float64), 2).tolist()
    return [crop.as_posix(), source.as_posix(), str(face.index), json.dumps(box), json.dumps(landmarks), sha]


def _csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    """Writes data to a hidden temporary file beside `path`, then renames it over `path`."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


class _Table:
    """A CSV file that grows by whole appended rows and survives a crash mid-append."""

    def __init__(self, path: Path, columns: tuple[str, ...]):
        self.path, self.columns = path, columns
        if path.exists():
            text = path.read_text(encoding="utf-8")
            if text and not text.endswith("\n"):  # a crash mid-append: drop the partial line
                _write_atomic(path, text[: text.rfind("\n") + 1].encode())

    def read(self) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            if tuple(reader.fieldnames or ()) != self.columns:
                raise InfoswapError(f"{self.path}: columns {reader.fieldnames} are not {list(self.columns)}; "
                                    "it was not written by `infoswap align`, choose another OUT_DIR")
            return list(reader)

    def append(self, rows: list[list[str]]) -> None:
        try:
            if not self.path.exists():
                _write_atomic(self.path, _csv_text([list(self.columns), *rows]).encode())
                return
            with open(self.path, "a", encoding="utf-8", newline="") as f:
                f.write(_csv_text(rows))
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise InfoswapError(f"{self.path}: cannot write ({e.strerror})") from None

    def remove(self, drop: Callable[[dict[str, str]], bool]) -> list[dict[str, str]]:
        """Removes the rows `drop` selects, rewriting the file atomically; returns them."""
        rows = self.read()
        dropped = [row for row in rows if drop(row)]
        if dropped:
            kept = [[row[c] for c in self.columns] for row in rows if not drop(row)]
            try:
                _write_atomic(self.path, _csv_text([list(self.columns), *kept]).encode())
            except OSError as e:
                raise InfoswapError(f"{self.path}: cannot write ({e.strerror})") from None
        return dropped


def _check_folders(src_dir: Path, out_dir: Path) -> None:
    if not src_dir.is_dir():
        raise InfoswapError(f"SRC_DIR {src_dir}: no such folder")
    if out_dir.exists() and not out_dir.is_dir():
        raise InfoswapError(f"OUT_DIR {out_dir}: exists and is not a folder")
    if out_dir.resolve() == src_dir.resolve():
        raise InfoswapError(f"OUT_DIR {out_dir}: must differ from SRC_DIR (crops would mix with the photos)")


def align_folder(src_dir: str | Path, out_dir: str | Path, size: int, finder: Finder | None = None,
                 progress: bool = True) -> AlignSummary:
    """Aligns every face of every photo under src_dir into out_dir; see the module docstring.

    `finder` maps an image (H, W, 3) uint8 to its faces (default: the shipped FaceFinder). A file that
    cannot be read or searched is reported on stderr, counted and skipped; the run goes on.
    """
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    _check_folders(src_dir, out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        manifest = _Table(out_dir / MANIFEST, COLUMNS)
        no_face = _Table(out_dir / NO_FACE, NO_FACE_COLUMNS)
    except OSError as e:
        raise InfoswapError(f"OUT_DIR {out_dir}: cannot write there ({e.strerror})") from None
    if finder is None:
        from infoswap.faces.finder import FaceFinder

        finder = FaceFinder()
    done, earlier_sources = _recorded(manifest, no_face)
    summary = AlignSummary(size)
    sources = find_sources(src_dir, exclude=out_dir.resolve())
    bar = tqdm(sources, unit="image", disable=not progress, file=sys.stderr, dynamic_ncols=True)
    for path in bar:
        relative = path.relative_to(src_dir)
        try:
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
            if sha in done:
                summary.done += 1
                continue
            loaded = read_image(path)
            faces = finder(loaded.pixels)
        except OSError as e:
            _skip(summary, relative, f"cannot read ({e.strerror})")
            continue
        except InfoswapError as e:
            _skip(summary, relative, str(e).removeprefix(f"{path}: "))
            continue
        except Exception as e:  # a run over thousands of files must not die on one of them
            _skip(summary, relative, f"failed ({type(e).__name__}: {e})")
            continue
        summary.read += 1
        summary.notes.update(loaded.notes)
        if relative.as_posix() in earlier_sources:  # the file changed since its crops were made
            _forget_changed(manifest, out_dir, relative)
        if not faces:
            summary.no_face.append(relative)
            no_face.append([[relative.as_posix(), sha]])
        else:
            rows = []
            for face in faces:
                crop = crop_name(relative, face.index)
                _write_crop(out_dir / crop, align_face(loaded.pixels, face, size).crop)
                rows.append(_manifest_row(crop, relative, face, sha))
            manifest.append(rows)
            summary.faces += len(faces)
        done.add(sha)
        bar.set_postfix(faces=summary.faces, refresh=False)
    return summary


def _recorded(manifest: _Table, no_face: _Table) -> tuple[set[str], set[str]]:
    """The source sha256s already done, and the source paths that have crops."""
    rows = manifest.read()
    return ({row["source_sha256"] for row in rows} | {row["source_sha256"] for row in no_face.read()},
            {row["source"] for row in rows})


def _skip(summary: AlignSummary, source: Path, reason: str) -> None:
    summary.bad.append((source, reason))
    tqdm.write(f"skipped {source}: {reason}", file=sys.stderr)


def _forget_changed(manifest: _Table, out_dir: Path, source: Path) -> None:
    """Removes the rows and crops of an earlier version of `source`."""
    for row in manifest.remove(lambda row: row["source"] == source.as_posix()):
        (out_dir / row["crop"]).unlink(missing_ok=True)


def _write_crop(path: Path, crop: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, png = cv2.imencode(".png", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    if not ok:
        raise InfoswapError(f"{path}: PNG encoding failed")
    try:
        _write_atomic(path, png.tobytes())
    except OSError as e:
        raise InfoswapError(f"{path}: cannot write the crop ({e.strerror})") from None
