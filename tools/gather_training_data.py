#!/usr/bin/env python3
"""Rebuild the training photos of the demo checkpoint (issue 10) and ``docs/training-data.csv``.

The photos are too big to commit, so this script is their record.  It reads every file at a
pinned commit of a public GitHub repository snapshot, keeps only what
``docs/training-data.md`` clears (licences and exclusions are argued there), normalises each
photo like the bundled set (EXIF orientation applied, sRGB, Lanczos down to a long side of at
most 512 px, baseline JPEG quality 95, no metadata) and writes::

    OUT/train/<source>/...      photos the model may be trained on
    OUT/heldout/<source>/...    identities kept for evaluation only, never for training

plus one CSV row per written file (path, origin, licence, identity, split, sha256).  Same
snapshots and same Pillow/libjpeg give the same bytes.  Files under OUT/train and OUT/heldout
that this run did not write are deleted, so the folder always matches the CSV.

Usage (from the repository root)::

    python tools/gather_training_data.py [--mirror /work/.mirror] \
        [--out /work/scratch/traindata/raw] [--csv docs/training-data.csv] [--without SOURCE ...]

``--mirror`` holds bare git snapshots as ``<owner>+<name>/repo`` (what the ``fetch`` tool
writes; a ``git clone --bare`` of each repository works as well).  Needs Pillow, numpy, git.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import grid_tiles  # noqa: E402  (same folder)
from prepare_sample_faces import HELD_OUT, LONDON, normalise  # noqa: E402  (bundled set: same rules)

LONG_SIDE = 512
JPEG_QUALITY = 95
NEAR_DUPLICATE = 0.92   # cosine of 24x24 grey thumbnails above which two synthetic tiles are one image
EXTRA_LONDON_HELD_OUT = 10   # London identities held out on top of HELD_OUT (not among the bundled 12)
VOTEVIEW_HELD_OUT_MODULUS = 50  # ~2% of Bioguide identities held out

PINS = {
    "debruine/webmorphR.stim": "fa8b78fda2d659bb74ce62fcd99c4407551d2a77",
    "vladmandic/human": "151df64d6143db8d0cf14df39e69be2f655f9f34",
    "SelfishGene/SFHQ-T2I-dataset": "a8064474a09cbcec27a498f5bf51ad08298ba47c",
    "SelfishGene/SFHQ-dataset": "4c898bc7936c19c201a163c4d636943e80d7bc19",
    "voteview/member_photos": "687cf7a9212a445431ad7441d8bfd0b7bf297eff",
}
LICENCE = {
    "london": "CC-BY-4.0",
    "canada": "CC-BY-4.0",
    "lisa": "CC0-1.0 (per repo README)",
    "human_groups": "MIT (repo licence; image's own rights not stated)",
    "sfhq_t2i": "MIT (repo licence; synthetic: FLUX.1/SDXL/DALL-E 3 outputs)",
    "sfhq_stylegan2": "MIT (repo licence; synthetic: StyleGAN2 trained on FFHQ upstream)",
    "voteview_bioguide": "public domain (US Congress Bioguide photo; probable, see training-data.md)",
}
SYNTHETIC = {"sfhq_t2i", "sfhq_stylegan2"}
# Figures that are not a grid of clean synthetic photos (why: docs/training-data.md).
T2I_SKIP = re.compile(r"model_distribution|prompt_lengths|bad things")
SFHQ_SKIP = re.compile(r"bring_to_life|landmarks_segmentation")


class Snapshot:
    """Files of one repository at its pinned commit, read from a bare git directory."""

    def __init__(self, repo: str, git_dir: Path):
        if not (git_dir / "objects").is_dir():
            raise SystemExit(f"no git snapshot of {repo} at {git_dir} (fetch it, or pass --without)")
        self.repo, self.commit, self.git_dir = repo, PINS[repo], git_dir
        self._batch: subprocess.Popen | None = None

    def ls(self, folder: str) -> list[str]:
        out = subprocess.run(["git", f"--git-dir={self.git_dir}", "ls-tree", "-r", "-z", "--name-only",
                              self.commit, "--", folder], check=True, capture_output=True).stdout
        return sorted(p for p in out.decode().split("\0") if p)

    def read(self, path: str) -> bytes:
        if self._batch is None:  # one long-lived cat-file instead of a process per file
            self._batch = subprocess.Popen(["git", f"--git-dir={self.git_dir}", "cat-file", "--batch"],
                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self._batch.stdin and self._batch.stdout
        self._batch.stdin.write(f"{self.commit}:{path}\n".encode())
        self._batch.stdin.flush()
        header = self._batch.stdout.readline().split()
        if len(header) != 3:
            raise SystemExit(f"{self.repo}@{self.commit[:12]}: {path} is missing")
        data = self._batch.stdout.read(int(header[2]))
        self._batch.stdout.read(1)
        return data

    def text(self, path: str) -> str:
        return self.read(path).decode("utf-8")


@dataclass(frozen=True)
class Item:
    source: str   # folder under train/ or heldout/: one per licence case, so a case can be dropped whole
    name: str     # path under that folder, without .jpg
    snap: Snapshot
    path: str     # file in the snapshot
    identity: str
    box: tuple[int, int, int, int] | None = None  # tile of a figure, in normalised full-size pixels


@lru_cache(maxsize=2)
def _figure(snap: Snapshot, path: str) -> Image.Image:
    return normalise(snap.read(path), 10**9)


def load(item: Item) -> Image.Image:
    if item.box is None:
        return normalise(item.snap.read(item.path), LONG_SIDE)
    buf = io.BytesIO()
    _figure(item.snap, item.path).crop(item.box).save(buf, "PNG", compress_level=0)
    return normalise(buf.getvalue(), LONG_SIDE)


# ------------------------------------------------------------------------------- sources
def london(stim: Snapshot) -> list[Item]:
    ids = [row["face_id"] for row in csv.DictReader(io.StringIO(stim.text("data-raw/london_info.csv")))]
    return [Item("london", f"london_{i}/{kind}", stim, f"inst/{kind}_front/{i}_{shot}.jpg", f"london_{i}")
            for i in ids for kind, shot in (("neutral", "03"), ("smiling", "08"))]


def canada(stim: Snapshot) -> list[Item]:
    stems = [Path(p).stem for p in stim.ls("inst/canada") if p.endswith(".jpg")]
    return [Item("canada", f"canada_{s}/front", stim, f"inst/canada/{s}.jpg", f"canada_{s}") for s in stems]


def lisa(stim: Snapshot) -> list[Item]:
    # inst/lisa and inst/zoom show one person (see assets/README.md), so one identity.
    paths = [p for d in ("inst/lisa", "inst/zoom") for p in stim.ls(d) if p.endswith(".jpg")]
    return [Item("lisa", f"lisa/{Path(p).parent.name}_{Path(p).stem}", stim, p, "lisa") for p in paths]


def human_groups(human: Snapshot) -> list[Item]:
    return [Item("human_groups", f"group-{n}", human, f"samples/in/group-{n}.jpg", "") for n in (3, 4, 5)]


def figure_tiles(snap: Snapshot, folder: str, skip: re.Pattern, source: str) -> list[Item]:
    items = []
    for path in snap.ls(folder):
        if skip.search(path) or not path.endswith(".jpg"):
            continue
        fig = np.asarray(_figure(snap, path))
        bg = grid_tiles.background(fig)
        boxes, rejected = grid_tiles.find_tiles(fig)
        slug = re.sub(r"[^a-z0-9]+", "_", Path(path).stem.lower()).strip("_")
        kept = [b for b in boxes if not grid_tiles.looks_captioned(fig[b[1]:b[3], b[0]:b[2]], bg)]
        print(f"  {path}: {len(kept)} tiles, {rejected} irregular, {len(boxes) - len(kept)} captioned")
        names = [f"{slug}_x{x0}_y{y0}" for x0, y0, _, _ in kept]  # by position: stable if a neighbour is dropped
        items += [Item(source, name, snap, path, f"{source}:{name}", box) for name, box in zip(names, kept)]
    return items


def voteview_bioguide(vv: Snapshot) -> tuple[list[Item], Counter]:
    """One photo per Bioguide identity from images/bio_guide, minus anything tied to another origin."""
    provenance = json.loads(vv.text("config/provenance.json"))
    wiki = json.loads(vv.text("config/wiki_results.json"))
    not_bioguide = {
        "listed in config/provenance.json": {i for ids in provenance.values() for i in ids},
        "on the Bioguide blacklist": set(json.loads(vv.text("config/bio_guide_results.json"))["blacklist"]),
        "in config/wiki_results.json": set(wiki["blacklist"]) | set(wiki["greylist"]),
        "in manual_wiki_override.sh": {f"{int(n):06d}" for n in
                                       re.findall(r"--icpsr (\d+)", vv.text("manual_wiki_override.sh"))},
        "also in images/wiki or images/manual": {Path(p).stem for d in ("images/wiki", "images/manual")
                                                 for p in vv.ls(d)},
        "members.csv source is not bio_guide": {r["icpsr"] for r in csv.DictReader(io.StringIO(vv.text("members.csv")))
                                               if r["source"] != "bio_guide"},
    }
    bioguide_id = {str(m["icpsr"]).zfill(6): m["bioguide_id"]
                   for m in json.loads(vv.text("config/database-raw.json")) if m.get("bioguide_id")}
    dropped: Counter = Counter()
    items, seen = [], set()
    for path in vv.ls("images/bio_guide"):
        icpsr = Path(path).stem
        reason = next((why for why, ids in not_bioguide.items() if icpsr in ids), None)
        if reason is None and icpsr not in bioguide_id:
            reason = "no Bioguide id in config/database-raw.json"
        if reason is None and bioguide_id[icpsr] in seen:
            reason = "second ICPSR of one Bioguide person (party switch)"
        if reason:
            dropped[reason] += 1
            continue
        seen.add(bioguide_id[icpsr])
        items.append(Item("voteview_bioguide", f"{bioguide_id[icpsr]}/{icpsr}", vv, path,
                          f"bioguide:{bioguide_id[icpsr]}"))
    return items, dropped


# ------------------------------------------------------------------------------- splits
def _rank(identity: str) -> int:
    return int(hashlib.sha256(f"infoswap-heldout:{identity}".encode()).hexdigest(), 16)


def held_out_identities(items: list[Item]) -> set[str]:
    """HELD_OUT (bundled, mandatory), plus a fixed hash-chosen sample so evaluation has enough pairs."""
    bundled = {f"london_{face_id}" for face_id, *_ in LONDON}
    london_ids = sorted({i.identity for i in items if i.source == "london"} - bundled, key=_rank)
    voteview = {i.identity for i in items if i.source == "voteview_bioguide"
                and _rank(i.identity) % VOTEVIEW_HELD_OUT_MODULUS == 0}
    return set(HELD_OUT) | set(london_ids[:EXTRA_LONDON_HELD_OUT]) | voteview


# ------------------------------------------------------------------------------- main
def _thumb(im: Image.Image) -> np.ndarray:
    v = np.asarray(im.convert("L").resize((24, 24), Image.Resampling.BOX), dtype=np.float64).ravel()
    v -= v.mean()
    return v / (np.linalg.norm(v) + 1e-9)


def encode(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=False)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    ap.add_argument("--out", type=Path, default=Path("/work/scratch/traindata/raw"))
    ap.add_argument("--csv", type=Path, default=Path(__file__).resolve().parents[1] / "docs/training-data.csv")
    ap.add_argument("--without", action="append", default=[], choices=sorted(LICENCE),
                    help="leave a source out (repeatable)")
    args = ap.parse_args(argv)

    def snap(repo: str) -> Snapshot:
        return Snapshot(repo, args.mirror / repo.replace("/", "+") / "repo")

    stim = snap("debruine/webmorphR.stim")
    builders = {
        "london": lambda: london(stim), "canada": lambda: canada(stim), "lisa": lambda: lisa(stim),
        "human_groups": lambda: human_groups(snap("vladmandic/human")),
        "sfhq_t2i": lambda: figure_tiles(snap("SelfishGene/SFHQ-T2I-dataset"), "figures", T2I_SKIP, "sfhq_t2i"),
        "sfhq_stylegan2": lambda: figure_tiles(snap("SelfishGene/SFHQ-dataset"), "images", SFHQ_SKIP,
                                               "sfhq_stylegan2"),
    }
    items: list[Item] = []
    for source, build in builders.items():
        if source not in args.without:
            print(f"{source}:")
            items += build()
    if "voteview_bioguide" not in args.without:
        vv_items, dropped = voteview_bioguide(snap("voteview/member_photos"))
        print(f"voteview_bioguide: {len(vv_items)} kept; dropped: {dict(dropped)}")
        items += vv_items
    held = held_out_identities(items)

    rows, thumbs, written_sha = [], [], set()
    skipped: Counter = Counter()
    for n, item in enumerate(items):
        im = load(item)
        if item.source in SYNTHETIC:  # the same synthetic face appears in several figures
            t = _thumb(im)
            if thumbs and float(np.max(np.stack(thumbs) @ t)) > NEAR_DUPLICATE:
                skipped[f"{item.source}: near-duplicate tile"] += 1
                continue
            thumbs.append(t)
        data = encode(im)
        digest = hashlib.sha256(data).hexdigest()
        if digest in written_sha:
            skipped[f"{item.source}: identical to an earlier file"] += 1
            continue
        written_sha.add(digest)
        split = "heldout" if item.identity in held else "train"
        rel = f"{split}/{item.source}/{item.name}.jpg"
        dest = args.out / rel
        if not dest.is_file() or dest.read_bytes() != data:
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        box = "" if item.box is None else "#box=" + ",".join(map(str, item.box))
        rows.append(dict(path=rel, source_repo=item.snap.repo, source_commit=item.snap.commit,
                         source_path=item.path + box, licence=LICENCE[item.source], identity=item.identity,
                         split=split, sha256=digest))
        if n % 500 == 0:
            print(f"  {n}/{len(items)}", flush=True)

    keep = {args.out / r["path"] for r in rows}
    stale = [p for d in ("train", "heldout") for p in (args.out / d).rglob("*") if p.is_file() and p not in keep]
    for p in stale:
        p.unlink()
    rows.sort(key=lambda r: r["path"])
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    with open(args.csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)

    print(f"\nwrote {len(rows)} files ({len(stale)} stale removed); skipped: {dict(skipped)}")
    print(f"{'source':<20}{'split':<9}{'images':>8}{'identities':>12}")
    for source in LICENCE:
        for split in ("train", "heldout"):
            sel = [r for r in rows if r["path"].startswith(f"{split}/{source}/")]
            if sel:
                ids = {r["identity"] for r in sel if r["identity"]}
                print(f"{source:<20}{split:<9}{len(sel):>8}{len(ids):>12}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
