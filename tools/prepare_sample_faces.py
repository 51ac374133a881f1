#!/usr/bin/env python3
"""Rebuild the bundled sample face photos in ``assets/faces/`` from pinned upstream snapshots.

Every shipped photo is listed in the ``FILES`` table below: where it goes, which repository,
commit and path it comes from, its licence and what it shows.  The script reads each source
file at the pinned commit, normalises it (EXIF orientation applied, converted to sRGB RGB,
downscaled with Lanczos so the long side is at most 600 px for identity photos and 1280 px for
group photos, never upscaled), and writes a baseline JPEG at quality 92 with no EXIF, ICC,
comment or other metadata.  It then builds the composite group pictures with
``tools/make_composites.py`` and writes ``assets/faces/manifest.csv`` (with sha256 of every
written file) and refreshes the file table in ``assets/README.md``.

Usage (from the repository root)::

    python tools/prepare_sample_faces.py \
        --repo debruine/webmorphR.stim=/path/to/webmorphR.stim \
        --repo vladmandic/human=/path/to/human

A ``--repo`` path may be a git checkout, a bare git directory (files are then read with
``git cat-file`` at the pinned commit, so later upstream changes do not matter) or a plain
directory holding the files at their upstream paths.  Without ``--repo`` the script looks in
``/work/.mirror/<owner>+<name>/repo``.  Only Pillow (and ``git`` for git sources) is needed.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageCms, ImageOps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_composites  # noqa: E402  (same folder)

IDENTITY_LONG_SIDE = 600
GROUP_LONG_SIDE = 1280
JPEG_QUALITY = 92

STIM = "debruine/webmorphR.stim"
STIM_COMMIT = "fa8b78fda2d659bb74ce62fcd99c4407551d2a77"
HUMAN = "vladmandic/human"
HUMAN_COMMIT = "151df64d6143db8d0cf14df39e69be2f655f9f34"

LONDON_LICENCE = "CC-BY-4.0"
CC0 = "CC0-1.0 (per repo README)"
HUMAN_LICENCE = "MIT (repo licence; image's own rights not stated)"

# London identities shipped: (face_id, sex, age, ethnicity) as self-reported in the repo's
# data-raw/london_info.csv.  Chosen for spread of sex (6 F / 6 M), age (21-54) and ethnicity.
LONDON = [
    ("006", "female", 31, "west_asian"),
    ("008", "male", 25, "west_asian"),
    ("021", "male", 48, "white"),
    ("024", "male", 47, "east_asian"),
    ("025", "female", 21, "black"),
    ("036", "male", 21, "east_asian/white"),
    ("038", "female", 40, "west_asian"),
    ("061", "male", 40, "black"),
    ("062", "female", 30, "black"),
    ("092", "male", 32, "white"),
    ("127", "female", 28, "east_asian"),
    ("136", "female", 54, "white"),
]
# Never train on these (see assets/README.md, "held-out identities").
HELD_OUT = ["london_008", "london_062"]


@dataclass(frozen=True)
class Entry:
    dest: str          # path under assets/faces/
    kind: str          # identity | group
    identity: str      # identity id for kind=identity, "" for real group photos
    repo: str
    commit: str
    src: str
    licence: str
    note: str = ""


def _london_entries() -> list[Entry]:
    out = []
    for fid, *_ in LONDON:
        for expr, folder, suffix in (("neutral", "neutral_front", "03"), ("smiling", "smiling_front", "08")):
            out.append(Entry(f"identities/london_{fid}/{expr}.jpg", "identity", f"london_{fid}", STIM,
                             STIM_COMMIT, f"inst/{folder}/{fid}_{suffix}.jpg", LONDON_LICENCE,
                             f"Face Research Lab London Set, {expr} expression"))
    return out


# The person in inst/lisa and inst/zoom is the same (same face, same clothes in both series),
# so both series are one identity, "lisa".
LISA = [
    Entry(f"identities/lisa/{n}.jpg", "identity", "lisa", STIM, STIM_COMMIT, f"inst/lisa/lisa{n}.jpg", CC0,
          "webcam photo, varying face size/position/rotation")
    for n in range(1, 5)
] + [
    Entry(f"identities/lisa/{n}.jpg", "identity", "lisa", STIM, STIM_COMMIT, f"inst/zoom/{d}cm.jpg", CC0,
          f"head-to-camera distance about {d} cm")
    for n, d in zip(range(5, 9), (15, 30, 45, 60))
]

GROUPS = [
    Entry("groups/human_group-3.jpg", "group", "", HUMAN, HUMAN_COMMIT, "samples/in/group-3.jpg", HUMAN_LICENCE,
          "4 faces, indoor"),
    Entry("groups/human_group-4.jpg", "group", "", HUMAN, HUMAN_COMMIT, "samples/in/group-4.jpg", HUMAN_LICENCE,
          "5 faces, seated, indoor low light"),
    Entry("groups/human_group-5.jpg", "group", "", HUMAN, HUMAN_COMMIT, "samples/in/group-5.jpg", HUMAN_LICENCE,
          "7 faces outdoors, 2 wear sunglasses"),
]

FILES: list[Entry] = _london_entries() + LISA + GROUPS


# --------------------------------------------------------------------------------------------
class Source:
    """Reads files of one repository at a pinned commit (git) or from a plain directory."""

    def __init__(self, path: Path):
        self.path = path
        self.git_dir = self._find_git_dir(path)

    @staticmethod
    def _find_git_dir(path: Path) -> Path | None:
        if (path / ".git").exists():
            return path / ".git"
        if (path / "HEAD").is_file() and (path / "objects").is_dir():
            return path
        return None

    def read(self, commit: str, rel: str) -> bytes:
        if self.git_dir is not None:
            return subprocess.run(["git", f"--git-dir={self.git_dir}", "cat-file", "blob", f"{commit}:{rel}"],
                                  check=True, capture_output=True).stdout
        return (self.path / rel).read_bytes()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


_SRGB = ImageCms.createProfile("sRGB")


def normalise(data: bytes, long_side: int) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im = ImageOps.exif_transpose(im)
    icc = im.info.get("icc_profile")
    if im.mode not in ("RGB", "L"):
        im = im.convert("RGB")
    if icc:  # bake the embedded colour profile into sRGB pixels, then drop the profile
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        im = ImageCms.profileToProfile(im.convert("RGB"), src, _SRGB, outputMode="RGB")
    im = im.convert("RGB")
    w, h = im.size
    scale = long_side / max(w, h)
    if scale < 1:
        im = im.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
    clean = Image.new("RGB", im.size)  # fresh image: no info dict (EXIF, comment, ICC, dpi) carried over
    clean.paste(im)
    return clean


def save_jpeg(im: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=False)


def default_repo_path(repo: str) -> Path:
    return Path("/work/.mirror") / repo.replace("/", "+") / "repo"


def write_manifest(rows: list[dict], out: Path) -> None:
    cols = ["path", "identity", "kind", "source_repo", "source_commit", "source_path", "licence", "sha256"]
    with out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({c: r[c] for c in cols})


BEGIN, END = "<!-- BEGIN FILE TABLE (generated by tools/prepare_sample_faces.py) -->", "<!-- END FILE TABLE -->"


def update_readme(rows: list[dict], readme: Path) -> None:
    lines = [BEGIN, "",
             "| path | origin (repo @ commit : path) | licence | sha256 | processing / note |",
             "|---|---|---|---|---|"]
    for r in rows:
        srcs = "<br>".join(f"`{p}`" for p in r["source_path"].split(";"))
        lines.append(f"| `{r['path']}` | {r['source_repo']} @ `{r['source_commit'][:12]}` : {srcs} | {r['licence']} "
                     f"| `{r['sha256']}` | {r['processing']} |")
    lines += ["", END]
    table = "\n".join(lines)
    text = readme.read_text() if readme.exists() else f"# Sample assets\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{BEGIN}\n{END}\n"
    pre, rest = text.split(BEGIN, 1)
    _, post = rest.split(END, 1)
    readme.write_text(pre + table + post)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", action="append", default=[], metavar="OWNER/NAME=PATH",
                    help="where a source repository's snapshot lies (repeatable)")
    ap.add_argument("--out", type=Path, default=ROOT / "assets" / "faces")
    ap.add_argument("--readme", type=Path, default=ROOT / "assets" / "README.md")
    args = ap.parse_args(argv)

    paths = {r: default_repo_path(r) for r in {e.repo for e in FILES}}
    for spec in args.repo:
        name, _, p = spec.partition("=")
        paths[name] = Path(p)
    sources = {r: Source(p) for r, p in paths.items()}

    rows = []
    for e in FILES:
        long_side = IDENTITY_LONG_SIDE if e.kind == "identity" else GROUP_LONG_SIDE
        data = sources[e.repo].read(e.commit, e.src)
        src_size = Image.open(io.BytesIO(data)).size
        im = normalise(data, long_side)
        dest = args.out / e.dest
        save_jpeg(im, dest)
        processing = (f"{src_size[0]}x{src_size[1]} -> {im.size[0]}x{im.size[1]}, Lanczos, JPEG q{JPEG_QUALITY}, "
                      f"metadata stripped. {e.note}")
        rows.append(dict(path=f"assets/faces/{e.dest}", identity=e.identity, kind=e.kind, source_repo=e.repo,
                         source_commit=e.commit, source_path=e.src, licence=e.licence, sha256=sha256(dest),
                         processing=processing))
        print(f"{dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest}  {im.size[0]}x{im.size[1]}")

    for c in make_composites.build(args.out, exclude=HELD_OUT):
        srcs = [next(e.src for e in FILES if e.dest == f"identities/{p}") for p in c.inputs]
        dest = args.out / c.dest
        rows.append(dict(path=f"assets/faces/{c.dest}", identity=";".join(c.identities), kind="group",
                         source_repo=STIM, source_commit=STIM_COMMIT, source_path=";".join(srcs),
                         licence=LONDON_LICENCE, sha256=sha256(dest),
                         processing="COMPOSITE by tools/make_composites.py from " +
                                    ", ".join(f"`identities/{p}`" for p in c.inputs) +
                                    f"; {c.size[0]}x{c.size[1]}, JPEG q{JPEG_QUALITY}"))
        print(f"assets/faces/{c.dest}  {c.size[0]}x{c.size[1]}  (composite)")

    write_manifest(rows, args.out / "manifest.csv")
    update_readme(rows, args.readme)
    total = sum((args.out / r["path"].removeprefix("assets/faces/")).stat().st_size for r in rows)
    print(f"{len(rows)} files, {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
