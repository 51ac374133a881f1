"""docs/quality.md: a checkpoint's swaps on held-out identities against two honest baselines.

    python tools/quality_report.py --heldout DIR [--checkpoint C] [--pairs 100] [--seed 0]
                                   [--work /tmp/quality] [--docs docs] [--reuse]

DIR holds photos of identities that training never saw, one folder per identity (any depth), e.g. the
held-out split that tools/gather_training_data.py writes. Pairs are drawn with a seeded generator: a
source photo and a target photo of two different identities. Each pair is scored three ways by the
independent recogniser (faceres, never used in training) through `infoswap.evaluate`:

- ours: `Swapper.swap` with the checkpoint (the shipped demo checkpoint by default);
- (a) target unchanged: the swap is the target itself, so cos(Y, source) is cos(target, source);
- (b) pasted source: the source's aligned face, at the model's resolution, pasted onto the target's face
  with the swap's own mask and colour matching (`faces.blend.paste_back`).

Writes docs/quality.md (tables, the per-pair criteria of issue 10), docs/quality-grid.jpg (source,
target, ours, pasted for a few pairs) and docs/quality-cosines.png; the swaps stay in --work.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import cv2
import numpy as np

from infoswap.errors import InfoswapError
from infoswap.evaluate.evaluation import evaluate_pairs
from infoswap.evaluate.judge import IndependentJudge
from infoswap.evaluate.manifest import read_manifest
from infoswap.faces.align import align_face
from infoswap.faces.blend import paste_back
from infoswap.io.images import IMAGE_SUFFIXES, read_image
from infoswap.swap.swapper import Swapper
from infoswap.weights.store import sha256_of

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("ours", "target", "pasted")
TITLES = {"ours": "infoswap (this checkpoint)", "target": "(a) target unchanged", "pasted": "(b) pasted source"}
GRID_ROWS = 6
CELL = 160


def identities(root: Path) -> dict[str, list[Path]]:
    """Photos per identity: the identity is the photo's parent folder (relative to root)."""
    found: dict[str, list[Path]] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            found.setdefault(str(path.parent.relative_to(root)), []).append(path)
    if len(found) < 2:
        raise InfoswapError(f"--heldout {root}: needs photos of at least two identities (one folder each)")
    return found


def one_face_only(people: dict[str, list[Path]], finder) -> dict[str, list[Path]]:
    """The photos in which the swap's own face finder sees exactly one face (usable as source and target)."""
    kept = {name: [p for p in photos if len(finder(read_image(p).pixels)) == 1] for name, photos in people.items()}
    dropped = sum(len(v) for v in people.values()) - sum(len(v) for v in kept.values())
    print(f"{dropped} held-out photo(s) without exactly one detected face left out")
    return {name: photos for name, photos in kept.items() if photos}


def draw_pairs(people: dict[str, list[Path]], count: int, seed: int) -> list[tuple[Path, Path]]:
    """`count` (source, target) photo pairs of two different identities, each identity a source at most
    ceil(count / identities) times."""
    rng = np.random.default_rng(seed)
    names = sorted(people)
    pairs = []
    while len(pairs) < count:
        for s in rng.permutation(len(names)):
            t = rng.choice([i for i in range(len(names)) if i != s])
            source, target = people[names[s]], people[names[t]]
            pairs.append((source[rng.integers(len(source))], target[rng.integers(len(target))]))
            if len(pairs) == count:
                break
    return pairs


def write_png(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))


def make_swaps(swapper: Swapper, pairs: list[tuple[Path, Path]], work: Path) -> dict[str, list[dict]]:
    """Writes ours and the pasted baseline for every pair; returns the three manifests' rows."""
    rows: dict[str, list[dict]] = {m: [] for m in METHODS}
    identities_cache, seconds = {}, []
    for i, (source, target) in enumerate(pairs):
        if source not in identities_cache:
            identities_cache[source] = swapper.source_identity(source)
        target_pixels = read_image(target).pixels
        faces = swapper.finder(target_pixels)
        if not faces:
            raise InfoswapError(f"{target}: no face found in a held-out target photo")
        face = max(faces, key=lambda f: f.area)
        start = time.perf_counter()
        ours = swapper.render(identities_cache[source], [target_pixels], [[face]])[0].image
        seconds.append(time.perf_counter() - start)
        source_pixels = read_image(source).pixels
        source_face = max(swapper.finder(source_pixels), key=lambda f: f.area)
        crop = align_face(source_pixels, source_face, swapper.resolution).crop
        pasted = paste_back(target_pixels, align_face(target_pixels, face, swapper.resolution), crop)
        for method, pixels in (("ours", ours), ("pasted", pasted)):
            write_png(work / method / f"{i:03d}.png", pixels)
            rows[method].append({"source": source, "target": target, "swap": work / method / f"{i:03d}.png"})
        rows["target"].append({"source": source, "target": target, "swap": target})
        print(f"\rswapped {i + 1}/{len(pairs)}", end="", flush=True)
    print(f"\nmedian render time per face {np.median(seconds):.3f} s")
    return rows


def evaluate(rows: dict[str, list[dict]], work: Path) -> dict[str, dict]:
    judge, reports = IndependentJudge(), {}
    for method, method_rows in rows.items():
        manifest = work / f"{method}.csv"
        with open(manifest, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=("source", "target", "swap"))
            writer.writeheader()
            writer.writerows({k: str(v) for k, v in row.items()} for row in method_rows)
        reports[method] = evaluate_pairs(read_manifest(manifest), judge)
        (work / f"{method}.json").write_text(json.dumps(reports[method], indent=1))
    return reports


def per_pair(reports: dict[str, dict]) -> dict[str, np.ndarray]:
    """Per-pair cosines of the pairs every method scored, aligned by row."""
    scored = [{p["row"]: p for p in r["pairs"] if p["status"] == "ok"} for r in reports.values()]
    common = sorted(set.intersection(*(set(s) for s in scored)))
    by_method = dict(zip(reports, scored))
    return {
        "rows": np.array(common),
        **{f"{m}_{k}": np.array([by_method[m][r][k] for r in common])
           for m in reports for k in ("cos_to_source", "cos_to_target", "pose_error", "expression_error")},
    }


def criteria(values: dict[str, np.ndarray]) -> dict[str, float]:
    """Issue 10's pass/fail figures on the pairs all three methods scored."""
    gain = values["ours_cos_to_source"] - values["target_cos_to_source"]
    return {
        "pairs": int(len(values["rows"])),
        "share_closer_than_target": float((gain > 0).mean()),
        "mean_gain": float(gain.mean()),
        "share_closer_to_source_than_own_target": float(
            (values["ours_cos_to_source"] > values["ours_cos_to_target"]).mean()),
        "pose_error_ours": float(values["ours_pose_error"].mean()),
        "pose_error_pasted": float(values["pasted_pose_error"].mean()),
    }


def cosine_plot(values: dict[str, np.ndarray], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.6), dpi=110)
    FigureCanvasAgg(figure)
    bins = np.linspace(-0.2, 1.0, 37)
    for k, key in enumerate(("cos_to_source", "cos_to_target")):
        axes = figure.add_subplot(1, 2, k + 1)
        for method in METHODS:
            data = values[f"{method}_{key}"]
            if method == "target" and key == "cos_to_target":
                continue  # identically 1
            axes.hist(data, bins=bins, histtype="step", linewidth=1.5, label=f"{TITLES[method]} ({data.mean():.3f})")
        axes.set(xlabel=f"faceres {key.replace('_', ' ')}", ylabel="pairs")
        axes.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    figure.savefig(path, format="png")


def largest_box(path: Path, finder) -> np.ndarray | None:
    faces = finder(read_image(path).pixels)
    return max(faces, key=lambda f: f.area).box if faces else None


def face_cell(path: Path, box: np.ndarray | None) -> np.ndarray:
    """A CELL-px square of an image around a face box (black without one)."""
    pixels = read_image(path).pixels
    if box is None:
        return np.zeros((CELL, CELL, 3), np.uint8)
    x0, y0, x1, y1 = box
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, 0.8 * max(x1 - x0, y1 - y0)
    matrix = np.float32([[CELL / (2 * half), 0, CELL / 2 - cx * CELL / (2 * half)],
                         [0, CELL / (2 * half), CELL / 2 - cy * CELL / (2 * half)]])
    return cv2.warpAffine(pixels, matrix, (CELL, CELL), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def grid(rows: dict[str, list[dict]], finder, path: Path) -> None:
    """Rows of source | target | ours | pasted for the first GRID_ROWS pairs."""
    lines = []
    for i in range(min(GRID_ROWS, len(rows["ours"]))):
        source, target = rows["ours"][i]["source"], rows["ours"][i]["target"]
        box = largest_box(target, finder)  # the swaps are cut where the target's face is
        cells = [face_cell(source, largest_box(source, finder)), face_cell(target, box),
                 face_cell(rows["ours"][i]["swap"], box), face_cell(rows["pasted"][i]["swap"], box)]
        lines.append(np.concatenate(cells, axis=1))
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(lines), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])


def markdown(reports: dict[str, dict], result: dict[str, float], values: dict[str, np.ndarray],
             command: str, checkpoint: str) -> str:
    def fmt(value, spec):
        return "n/a" if value is None else format(value, spec)

    lines = [
        "# Quality of the shipped checkpoint on held-out identities",
        "",
        f"Made by `{command}` with {checkpoint}. The identities in these pairs were never seen in training",
        "(docs/training-data.md). Every number comes from faceres, a recogniser that no infoswap model is",
        "trained through (`infoswap evaluate`). A pair counts only where faceres finds a face in the swap:",
        ", ".join(f"{TITLES[m]} {reports[m]['pairs_scored']} of {reports[m]['pairs_total']}" for m in METHODS)
        + " pairs were scored.",
        "",
        "## Issue 10's criteria",
        "",
        "| criterion | goal | measured |",
        "|---|---|---|",
        f"| pairs with cos(Y, source) > cos(target, source) | ≥ 90 % | {100 * result['share_closer_than_target']:.1f} % |",
        f"| mean cos(Y, source) − mean cos(target, source) | ≥ 0.1 | {result['mean_gain']:.3f} |",
        f"| pairs with cos(Y, source) > cos(Y, target) | ≥ 50 % (reported either way) | "
        f"{100 * result['share_closer_to_source_than_own_target']:.1f} % |",
        f"| pose error, ours vs pasted source | ours lower | {result['pose_error_ours']:.2f}° vs "
        f"{result['pose_error_pasted']:.2f}° |",
        "",
        f"{result['pairs']} pairs scored by all three methods.",
        "",
        "## All metrics",
        "",
        "| metric | " + " | ".join(TITLES[m] for m in METHODS) + " |",
        "|---|" + "---|" * len(METHODS),
    ]
    for key, spec in (("id_retrieval", ".3f"), ("cos_to_source", ".3f"), ("cos_to_target", ".3f"),
                      ("pose_error", ".2f"), ("expression_error", ".3f"), ("identity_discriminability", ".3f")):
        lines.append(f"| {key} | " + " | ".join(fmt(reports[m][key], spec) for m in METHODS) + " |")
    lines.append("| pairs scored | " + " | ".join(str(reports[m]["pairs_scored"]) for m in METHODS) + " |")
    lines += ["", "Distribution over the pairs (10th / 50th / 90th percentile):", "",
              "| | cos to source | cos to target |", "|---|---|---|"]
    for m in METHODS:
        cells = [" / ".join(f"{q:.3f}" for q in np.percentile(values[f"{m}_{k}"], (10, 50, 90)))
                 for k in ("cos_to_source", "cos_to_target")]
        lines.append(f"| {TITLES[m]} | {cells[0]} | {cells[1]} |")
    lines += ["", "![cosine histograms](quality-cosines.png)", "",
              "Columns: source, target, infoswap, pasted source (baseline b).", "",
              "![held-out swaps](quality-grid.jpg)", "",
              "Definitions: " + "; ".join(f"**{k}**: {v}" for k, v in reports["ours"]["definitions"].items()) + ".",
              ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--heldout", type=Path, required=True)
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path("/tmp/infoswap-quality"))
    parser.add_argument("--docs", type=Path, default=ROOT / "docs")
    parser.add_argument("--reuse", action="store_true", help="remake the docs from the swaps and reports in --work")
    args = parser.parse_args()

    swapper = Swapper.from_pretrained(args.checkpoint)
    if args.reuse:  # the swaps and reports of an earlier run in --work: only the docs are made again
        rows = {m: [{"source": p.source, "target": p.target, "swap": p.swap}
                    for p in read_manifest(args.work / f"{m}.csv")] for m in METHODS}
        reports = {m: json.loads((args.work / f"{m}.json").read_text()) for m in METHODS}
    else:
        pairs = draw_pairs(one_face_only(identities(args.heldout), swapper.finder), args.pairs, args.seed)
        rows = make_swaps(swapper, pairs, args.work)
        reports = evaluate(rows, args.work)
    values = per_pair(reports)
    result = criteria(values)
    print(json.dumps(result, indent=1))
    args.docs.mkdir(parents=True, exist_ok=True)
    cosine_plot(values, args.docs / "quality-cosines.png")
    grid(rows, swapper.finder, args.docs / "quality-grid.jpg")
    command = f"python tools/quality_report.py --heldout HELDOUT --pairs {args.pairs} --seed {args.seed}"
    checkpoint = f"`{args.checkpoint}`" if args.checkpoint else \
        f"the shipped demo checkpoint (sha256 `{sha256_of(swapper.checkpoint)[:16]}…`)"
    (args.docs / "quality.md").write_text(markdown(reports, result, values, command, checkpoint))


if __name__ == "__main__":
    main()
