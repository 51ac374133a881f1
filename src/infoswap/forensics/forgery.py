"""The two ways a set's fakes are made: an InfoSwap swap, or the pasted-source baseline.

Both put a source identity's face into the same target face through the same soft mask and colour
matching (`infoswap.faces.blend.paste_back`), so they differ only in what is pasted: the generator's
output, or the source's own aligned face. Neither carries the invisible watermark in its pixels: only
the fakes would, and a detector would learn to read the mark instead of the forgery (the crop files
still say they are AI-generated, see `infoswap.forensics.crops`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from infoswap.faces.face import Face
    from infoswap.swap.swapper import Swapper

METHODS = ("infoswap", "paste")
PASTE_SIZE = 128  # the baseline pastes at the demo preset's resolution, so both fakes share that handicap


class RememberingFinder:
    """A FaceFinder that answers from memory for pixels it has seen: a build detects each photo once, though
    the photo is a target and another identity's source."""

    def __init__(self) -> None:
        from infoswap.faces.finder import FaceFinder

        self.finder = FaceFinder()
        self.memory: dict[str, list[Face]] = {}

    def __call__(self, image: np.ndarray) -> list[Face]:
        key = hashlib.sha1(np.ascontiguousarray(image).tobytes() + str(image.shape).encode()).hexdigest()
        if key not in self.memory:
            self.memory[key] = self.finder(image)
        return list(self.memory[key])


class Forger(Protocol):
    method: str
    label: str  # how tables name the method

    def source(self, pixels: np.ndarray, face: Face) -> Any:
        """Whatever `forge` needs of one source face, computed once per source identity."""

    def forge(self, source: Any, frames: list[np.ndarray], faces: list[Face]) -> list[np.ndarray]:
        """Each frame (H, W, 3) uint8 with its face replaced by the source's."""


class PasteForger:
    """The baseline: the source's aligned face pasted onto the target with the mask and colour matching."""

    method = "paste"
    label = "pasted source"

    def __init__(self, size: int = PASTE_SIZE):
        self.size = size

    def source(self, pixels: np.ndarray, face: Face) -> np.ndarray:
        from infoswap.faces.align import align_face

        return align_face(pixels, face, self.size).crop

    def forge(self, source: np.ndarray, frames: list[np.ndarray], faces: list[Face]) -> list[np.ndarray]:
        from infoswap.faces.align import align_face
        from infoswap.faces.blend import paste_back

        return [paste_back(frame, align_face(frame, face, self.size), source, color_match=True)
                for frame, face in zip(frames, faces)]


class SwapForger:
    """InfoSwap: the source identity (from its one face) into every frame's face, in generator batches."""

    method = "infoswap"

    def __init__(self, swapper: Swapper):
        self.swapper = swapper
        path = Path(str(swapper.checkpoint))  # a run's snapshot is named by its folder, a shipped file by itself
        self.label = f"InfoSwap ({path.parent.name}/{path.stem})" if path.name.startswith("network-snapshot-") \
            else f"InfoSwap ({path.stem})"

    def source(self, pixels: np.ndarray, face: Face) -> Any:
        return self.swapper.source_identity(pixels, source_face_index=face.index)

    def forge(self, source: Any, frames: list[np.ndarray], faces: list[Face]) -> list[np.ndarray]:
        results = self.swapper.render(source, frames, [[face] for face in faces], mark=False)
        return [r.image for r in results]


def make_forger(method: str, finder: RememberingFinder, checkpoint: str | None = None,
                device: str = "auto") -> Forger:
    """The forger for `method`; "infoswap" loads the checkpoint (None: the shipped demo checkpoint)."""
    if method == "paste":
        return PasteForger()
    from infoswap.swap.swapper import Swapper

    return SwapForger(Swapper.from_pretrained(checkpoint, device=device, finder=finder))
