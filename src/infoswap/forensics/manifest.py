"""A labelled real/fake set: `manifest.csv` (one row per aligned face crop) beside an optional `build.json`.

Columns: path (the crop, relative to the CSV's folder or absolute), label (real | fake), split (train |
test, by identity), and, as `forensics build` writes them, method, identity, target, frame, source and
source_identity. Only path, label and split are required, so any labelled set of face crops can be
evaluated. Every problem is one InfoswapError line naming the file and, where it helps, the line.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from infoswap.errors import InfoswapError
from infoswap.io.manifest_csv import read_manifest_rows

MANIFEST = "manifest.csv"
BUILD_INFO = "build.json"
LABELS = ("real", "fake")
SPLITS = ("train", "test")
REQUIRED = ("path", "label", "split")


@dataclass(frozen=True)
class SetRow:
    """One face crop and where it came from; `frame` is the position among the target's sampled frames."""

    path: str
    label: str
    split: str
    method: str = ""
    identity: str = ""
    target: str = ""
    frame: int = 0
    source: str = ""
    source_identity: str = ""

    @property
    def is_fake(self) -> int:
        return int(self.label == "fake")


COLUMNS = tuple(f.name for f in fields(SetRow))


@dataclass(frozen=True)
class LabelledSet:
    """The rows of one manifest, and what `forensics build` recorded about the set (empty if not built by it)."""

    csv: Path
    rows: list[SetRow]
    info: dict

    @property
    def name(self) -> str:
        return self.csv.parent.name if self.csv.name == MANIFEST else self.csv.stem

    def file(self, row: SetRow) -> Path:
        return (self.csv.parent / row.path).resolve()

    def split(self, split: str) -> list[SetRow]:
        """The rows of one split; an empty split is an error that names the splits there are."""
        chosen = [r for r in self.rows if r.split == split]
        if not chosen:
            present = sorted({r.split for r in self.rows})
            raise InfoswapError(f"{self.csv}: no rows in split {split!r} (it has: {', '.join(present)})")
        return chosen

    def usable(self, split: str) -> list[SetRow]:
        """The split's rows once they can be trained on or scored: both classes present, every crop on disk."""
        rows = self.split(split)
        fakes = sum(r.is_fake for r in rows)
        if fakes in (0, len(rows)):
            only = "fake" if fakes else "real"
            raise InfoswapError(f"{self.csv}, split {split}: all {len(rows)} faces are {only}; "
                                "it needs both real and fake faces")
        missing = [r for r in rows if not self.file(r).is_file()]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise InfoswapError(f"{self.csv}: face crop {self.file(missing[0])} does not exist{more}")
        return rows


def manifest_path(path: Path) -> Path:
    """A set folder means its manifest.csv; a file is taken as the manifest itself."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST
    if not path.is_file():
        raise InfoswapError(f"{path}: no such manifest (build a set with `infoswap forensics build`)")
    return path


def read_set(path: Path) -> LabelledSet:
    """The set at `path` (a folder or its CSV), every row checked; raises InfoswapError for any unusable one."""
    csv_path = manifest_path(path)
    rows = [_row(csv_path, line, values) for line, values in read_manifest_rows(csv_path, REQUIRED)]
    return LabelledSet(csv_path, rows, _build_info(csv_path))


def _build_info(csv_path: Path) -> dict:
    """What `forensics build` recorded beside the manifest, or {} for a set made some other way."""
    path = csv_path.parent / BUILD_INFO
    if csv_path.name != MANIFEST or not path.is_file():
        return {}
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InfoswapError(f"{path}: not readable JSON ({e})") from None
    if not isinstance(info, dict):
        raise InfoswapError(f"{path}: not a JSON object")
    return info


def _row(csv_path: Path, line: int, values: dict[str, str]) -> SetRow:
    where = f"{csv_path}, line {line}"
    if not values.get("path"):
        raise InfoswapError(f"{where}: empty path")
    if values.get("label") not in LABELS:
        raise InfoswapError(f"{where}: label {values.get('label')!r} is not one of {', '.join(LABELS)}")
    if values.get("split") not in SPLITS:
        raise InfoswapError(f"{where}: split {values.get('split')!r} is not one of {', '.join(SPLITS)}")
    try:
        frame = int(values.get("frame") or 0)
    except ValueError:
        raise InfoswapError(f"{where}: frame {values['frame']!r} is not a whole number") from None
    return SetRow(**{c: values.get(c, "") for c in COLUMNS if c != "frame"}, frame=frame)


def manifest_text(rows: list[SetRow]) -> str:
    """The CSV text of `rows`, header first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(astuple(r) for r in rows)
    return out.getvalue()
