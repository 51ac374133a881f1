"""How an evaluation is shown: a plain-text table of the means, and the JSON file with per-pair values."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

from infoswap.errors import InfoswapError


def _number(value: float | None, fmt: str, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{fmt}}{unit}"


def _fid_kid_rows(report: dict) -> list[tuple[str, str]]:
    """One row while FID/KID were not asked for; else FID, and KID with its spread over subsets."""
    if "fid_kid_images" not in report:
        return [("FID / KID", "not computed")]
    images = report["fid_kid_images"]
    kid = _number(report["kid"], ".5f") + ("" if report["kid_std"] is None else f" ± {report['kid_std']:.5f}")
    return [("FID", _number(report["fid"], ".2f") + f"  ({images['swap']} swaps vs {images['target']} targets)"),
            ("KID", kid)]


def format_table(report: dict) -> str:
    """The means as an aligned two-column table, with the counts above and notes below."""
    chance = report["retrieval_chance"]
    retrieval = _number(None if report["id_retrieval"] is None else 100 * report["id_retrieval"], ".1f", " %")
    if chance is not None:
        retrieval += f"  (chance {100 * chance:.1f} %, {report['sources']} sources)"
    rows = [
        ("ID retrieval top-1", retrieval),
        ("cosine to source", _number(report["cos_to_source"], ".3f")),
        ("cosine to target", _number(report["cos_to_target"], ".3f")),
        ("pose error", _number(report["pose_error"], ".2f", " deg")),
        ("expression error", _number(report["expression_error"], ".3f")),
        ("identity discriminability", _number(report["identity_discriminability"], ".3f", " AUC")),
        *_fid_kid_rows(report),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [
        f"{report['pairs_scored']} of {report['pairs_total']} pairs scored "
        f"({report['swaps_without_face']} swaps without a face, {report['inputs_without_face']} inputs without a face)",
        f"{'metric':<{width}}  value",
        *(f"{name:<{width}}  {value}" for name, value in rows),
    ]
    lines += [f"note: {note}" for note in report["notes"]]
    return "\n".join(lines)


def _rounded(value):
    if isinstance(value, float):
        return round(value, 5) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def write_json(report: dict, path: Path) -> None:
    """Writes the report (floats to 5 decimals) atomically: a temp file beside `path`, then a rename."""
    path = Path(path)
    if not path.parent.is_dir():
        raise InfoswapError(f"--json: folder {path.parent} does not exist")
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as f:
            json.dump(_rounded(report), f, indent=1)
            f.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
