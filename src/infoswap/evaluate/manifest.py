"""The evaluation manifest: a CSV with columns source,target,swap (what `infoswap swap --manifest` writes).

Paths are absolute or relative to the CSV's folder. Every problem is one InfoswapError line that names the
file, and the row where it helps; missing images are all checked before any work starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from infoswap.errors import InfoswapError
from infoswap.io.manifest_csv import read_manifest_rows

COLUMNS = ("source", "target", "swap")


@dataclass(frozen=True)
class SwapPair:
    """One row: the identity source, the target it was swapped into, and the result; `row` is the CSV line."""

    source: Path
    target: Path
    swap: Path
    row: int


def read_manifest(path: Path) -> list[SwapPair]:
    """The manifest's rows with resolved paths; raises InfoswapError for any unusable manifest."""
    path = Path(path)
    if not path.is_file():
        raise InfoswapError(f"manifest {path} {'is not a file' if path.exists() else 'does not exist'}")
    rows = read_manifest_rows(path, COLUMNS)

    pairs = []
    for line, row in rows:
        empty = [c for c in COLUMNS if not row.get(c)]
        if empty:
            raise InfoswapError(f"manifest {path}, line {line}: empty {', '.join(empty)}")
        source, target, swap = ((path.parent / row[c]).resolve() for c in COLUMNS)
        pairs.append(SwapPair(source=source, target=target, swap=swap, row=line))

    absent = [(p.row, c, getattr(p, c)) for p in pairs for c in COLUMNS if not getattr(p, c).is_file()]
    if absent:
        line, column, file = absent[0]
        more = f" (and {len(absent) - 1} more)" if len(absent) > 1 else ""
        raise InfoswapError(f"manifest {path}, line {line}: {column} image {file} does not exist{more}")
    return pairs
