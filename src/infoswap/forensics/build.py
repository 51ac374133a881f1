"""`forensics build`: real and fake aligned face crops of every target frame, and the manifest that labels them.

App. 3: for each target video, 10 evenly spaced frames are swapped, and the 10 matching real frames are
kept. Here every frame's largest face is found once; the forger replaces it with the face of the
identity paired with the target's (`infoswap.forensics.split`); the real and the fake crop are cut with
the same alignment matrix (the target's landmarks), so a pair differs only by the forgery. Files that
cannot be read and frames without a face are skipped and reported, not fatal.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from infoswap.errors import InfoswapError
from infoswap.forensics.crops import write_crop
from infoswap.forensics.manifest import BUILD_INFO, MANIFEST, SetRow, manifest_text
from infoswap.forensics.split import pair_sources
from infoswap.forensics.targets import Target, read_frames

if TYPE_CHECKING:
    from infoswap.faces.face import Face
    from infoswap.forensics.forgery import Forger, RememberingFinder


@dataclass
class BuildSummary:
    splits: dict[str, str]  # identity -> split
    targets: int
    pairs: Counter = field(default_factory=Counter)  # split -> real/fake pairs written
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (target or frame, why)

    def line(self) -> str:
        per_split = ", ".join(f"{s}: {sum(v == s for v in self.splits.values())} identities / {self.pairs[s]} pairs"
                              for s in ("train", "test"))
        return (f"{sum(self.pairs.values())} real/fake pairs from {self.targets} targets of {len(self.splits)} "
                f"identities ({per_split}); {len(self.skipped)} skipped")


def _largest(faces: list[Face]) -> Face | None:
    return max(faces, key=lambda f: f.area) if faces else None


def _prepare_source(candidates: list[Target], forger: Forger, finder: RememberingFinder) -> tuple[Any, str]:
    """The forger's source from the first of an identity's targets that shows a face (a video: its middle frame)."""
    for target in candidates:
        try:
            _, pixels = read_frames(target, 1)[0]
        except (InfoswapError, IndexError):
            continue
        face = _largest(finder(pixels))
        if face is not None:
            return forger.source(pixels, face), target.relative
    raise InfoswapError(f"identity {candidates[0].identity!r}: none of its {len(candidates)} file(s) shows a face to "
                        "use as a source; add a photo with a face or remove the identity")


def build_set(targets: list[Target], splits: dict[str, str], forger: Forger, finder: RememberingFinder, out: Path,
              *, frames: int = 10, size: int = 128, seed: int = 0, progress: bool = True,
              info: dict | None = None) -> BuildSummary:
    """Writes `out`/{real,fake}/… crops, `out`/manifest.csv and `out`/build.json; returns the counts.

    `splits` comes from `assign_splits` over the targets' identities with the same `seed`.
    """
    from infoswap.faces.align import align_face
    from infoswap.swap.labels import TOOL
    from infoswap.train.checkpoint import atomic_write_text

    source_of = pair_sources(splits, seed)
    by_identity: dict[str, list[Target]] = defaultdict(list)
    for t in targets:
        by_identity[t.identity].append(t)
    prepared: dict[str, tuple[Any, str]] = {}
    summary = BuildSummary(splits, len(targets))
    rows: list[SetRow] = []
    for target in tqdm(targets, desc=f"build ({forger.method})", unit="target", disable=not progress):
        source_identity = source_of[target.identity]
        if source_identity not in prepared:
            prepared[source_identity] = _prepare_source(by_identity[source_identity], forger, finder)
        source, source_file = prepared[source_identity]
        try:
            sampled = read_frames(target, frames)
        except InfoswapError as e:
            summary.skipped.append((target.relative, str(e)))
            continue
        found = [(i, pixels, _largest(finder(pixels))) for i, pixels in sampled]
        summary.skipped += [(f"{target.relative} frame {i}", "no face") for i, _, face in found if face is None]
        found = [(i, pixels, face) for i, pixels, face in found if face is not None]
        if not found:
            continue
        fakes = forger.forge(source, [pixels for _, pixels, _ in found], [face for _, _, face in found])
        split = splits[target.identity]
        for (i, pixels, face), fake in zip(found, fakes):
            common = dict(split=split, method=forger.method, identity=target.identity, target=target.relative,
                          frame=i)
            for label, image, src, src_id in (("real", pixels, "", ""), ("fake", fake, source_file, source_identity)):
                crop_path = f"{label}/{target.relative}.f{i:02d}.png"
                write_crop(out / crop_path, align_face(image, face, size).crop, fake=label == "fake")
                rows.append(SetRow(crop_path, label, source=src, source_identity=src_id, **common))
            summary.pairs[split] += 1
    empty = [s for s in ("train", "test") if not summary.pairs[s]]
    if empty:
        raise InfoswapError(f"no face found in any target of the {' and '.join(empty)} split; nothing to write")
    record = {**(info or {}), "method": forger.method, "label": forger.label, "frames": frames, "size": size,
              "seed": seed, "tool": TOOL,
              "identities": {s: sorted(i for i, v in splits.items() if v == s) for s in ("train", "test")},
              "pairs": dict(summary.pairs), "skipped": [list(s) for s in summary.skipped]}
    atomic_write_text(out / BUILD_INFO, json.dumps(record, indent=1) + "\n")
    atomic_write_text(out / MANIFEST, manifest_text(rows))
    return summary
