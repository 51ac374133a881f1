"""Manifests as CSV: a header naming the columns, then one row per item, read into stripped strings.

Both manifests a user hands over (`evaluate --manifest`, a forensic set's manifest.csv) go through here,
so a file that is no CSV, lacks a column or has no rows is named the same way for either.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from infoswap.errors import InfoswapError


def read_manifest_rows(path: Path, required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """(line number, {column: value}) for each row, names and values stripped, a short row's missing cells
    as ""; raises InfoswapError unless the file parses, names every `required` column and has a row."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [(c or "").strip() for c in reader.fieldnames or []]
            raw = [(reader.line_num, row) for row in reader]
    except (UnicodeDecodeError, csv.Error) as e:
        raise InfoswapError(f"{path}: not a readable CSV ({e})") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise InfoswapError(f"{path}: lacks column(s) {', '.join(missing)}; its header must name {','.join(required)}")
    if not raw:
        raise InfoswapError(f"{path}: has a header but no rows")
    # Cells beyond the header land under the key None as a list: they belong to no column.
    return [(line, {(k or "").strip(): (v or "").strip() for k, v in row.items() if isinstance(v, str) or v is None})
            for line, row in raw]
