"""Which detected faces an operation applies to: all, one by index, the largest, or those like a reference.

Reference mode follows FaceFusion's: a face is kept when its identity distance (1 − cosine of the dlib
embeddings of the aligned faces) to the reference face is below a threshold.

Default threshold, measured on the bundled identities (tests/test_select.py measures it again): the 32
single-face photos of 13 people under assets/faces/identities, found by FaceFinder, aligned at 256 and
embedded by the dlib recogniser, give 40 same-person pairs at distance 0.003–0.041 (mean 0.021) and 456
different-person pairs at 0.077–0.257 (mean 0.167). DEFAULT_THRESHOLD = 0.06 sits in the middle of that
gap, about 0.02 from either side. Photos less alike than these studio portraits (age, lighting, pose)
spread the same-person distances wider: raise the threshold if a person is missed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from infoswap.errors import InfoswapError
from infoswap.faces.align import align_face
from infoswap.faces.face import Face

if TYPE_CHECKING:
    from infoswap.recognition.base import Recognizer

SELECT_MODES = ("all", "index", "largest", "reference")
DEFAULT_THRESHOLD = 0.06
EMBED_SIZE = 256  # aligned size fed to the recogniser: its crop of 256 is just above dlib's 150 input
# --help texts for the commands that offer selection (swap, faces), so the numbers live in one place.
FACE_INDEX_HELP = "Only the face at this place: 0 is the leftmost face, counting left to right by box centre."
THRESHOLD_HELP = (f"Identity distance (1 - cosine) under which a face counts as the --reference person. Default "
                  f"{DEFAULT_THRESHOLD}: on the bundled photos one person's pictures lie 0.003-0.041 apart, "
                  "different people 0.077-0.257.")


def embed_faces(image: np.ndarray, faces: list[Face], recognizer: Recognizer) -> np.ndarray:
    """L2-normalised identity embeddings (N, D) of `faces` in `image` (H, W, 3) uint8."""
    import torch

    if not faces:
        return np.zeros((0, recognizer.embedding_dim), np.float32)
    crops = np.stack([align_face(image, face, EMBED_SIZE).crop for face in faces])  # (N, S, S, 3)
    device = next(recognizer.parameters()).device
    batch = torch.from_numpy(crops).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1.0  # (N, 3, S, S), [-1, 1]
    with torch.inference_mode():
        return recognizer(batch).cpu().numpy()


def identity_distance(embeddings: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """1 − cosine between each row of embeddings (N, D) and reference (D,)."""
    embeddings = embeddings / np.linalg.norm(embeddings, axis=-1, keepdims=True)
    return 1.0 - embeddings @ (reference / np.linalg.norm(reference))


def embed_reference(image: np.ndarray, faces: list[Face], recognizer: Recognizer,
                        source: str = "reference image") -> np.ndarray:
    """The embedding (D,) of the largest face of a reference image; an error if it has none."""
    if not faces:
        raise InfoswapError(f"{source}: no face found to use as the reference")
    largest = max(faces, key=lambda face: face.area)
    return embed_faces(image, [largest], recognizer)[0]


def select_faces(faces: list[Face], mode: str = "all", *, index: int | None = None,
                 reference_embedding: np.ndarray | None = None, embeddings: np.ndarray | None = None,
                 threshold: float = DEFAULT_THRESHOLD) -> list[Face]:
    """The faces `mode` picks, in index (left to right) order.

    all: every face. index: the face with Face.index == index (0 is the leftmost). largest: the face
    with the largest box ([] if none). reference: every face whose `embeddings` row (same order as
    `faces`, from `embed_faces`) lies within `threshold` of `reference_embedding`.
    """
    if mode not in SELECT_MODES:
        raise InfoswapError(f"unknown face selection {mode!r}; choose one of {', '.join(SELECT_MODES)}")
    order = sorted(range(len(faces)), key=lambda i: faces[i].index)
    ordered = [faces[i] for i in order]
    if mode == "all":
        return ordered
    if mode == "index":
        if index is None:
            raise InfoswapError("face selection by index needs a face index")
        chosen = [face for face in ordered if face.index == index]
        if not chosen:
            noun = "face" if len(faces) == 1 else "faces"
            raise InfoswapError(f"face index {index} out of range: image has {len(faces)} {noun}")
        return chosen
    if mode == "largest":
        return [max(ordered, key=lambda face: face.area)] if faces else []
    if reference_embedding is None:
        raise InfoswapError("face selection by reference needs a reference face")
    if not 0 < threshold < 2:
        raise InfoswapError(f"reference threshold must lie in (0, 2) (a cosine distance), got {threshold}")
    if embeddings is None or len(embeddings) != len(faces):
        raise ValueError("reference selection needs one embedding per face, in the order of `faces`")
    distances = identity_distance(np.asarray(embeddings)[order], np.asarray(reference_embedding))
    return [face for face, distance in zip(ordered, distances) if distance < threshold]
