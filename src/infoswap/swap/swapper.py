"""The user-facing swap: a source identity into the selected faces of images and video frames.

Pixels -> faces (FaceFinder) -> selection -> aligned crops at the model's resolution -> generator, in
batches, with the source identity computed once -> paste-back with colour matching -> watermark. The
attribute noise ε of the IIB is drawn once per Swapper and shared by every face and frame, so a still
face in a video gets the same output in every frame instead of flickering with fresh noise. The file
writers (`infoswap.swap.runs`) add the file metadata; arrays come back watermarked only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Union

import numpy as np

from infoswap.errors import InfoswapError
from infoswap.faces.select import DEFAULT_THRESHOLD, SELECT_MODES, embed_faces, embed_reference, select_faces

if TYPE_CHECKING:
    import torch

    from infoswap.faces.face import Face
    from infoswap.faces.finder import FaceFinder
    from infoswap.model.infoswap import InfoSwap
    from infoswap.recognition.base import Recognizer

ImageLike = Union[str, Path, np.ndarray]
DEFAULT_BATCH = 8  # aligned faces per generator call


@dataclass(frozen=True)
class SourceIdentity:
    """z̃_sid of one person averaged over their source photos, (1, D); compute once, reuse everywhere."""

    vector: torch.Tensor
    sources: tuple[str, ...]


@dataclass(frozen=True)
class FaceSelector:
    """Which target faces to swap (see `infoswap.faces.select`); `reference` is an embedding (D,)."""

    mode: str = "all"
    index: int | None = None
    reference: np.ndarray | None = None
    threshold: float = DEFAULT_THRESHOLD


@dataclass
class SwapResult:
    """The output image (H, W, 3) uint8 and what happened; `faces == 0` means it is the target unchanged."""

    image: np.ndarray
    faces: int
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def swapped(self) -> bool:
        return self.faces > 0


def _label(item: ImageLike, position: int) -> str:
    return str(item) if isinstance(item, (str, Path)) else f"source array {position}"


def load_pixels(item: ImageLike) -> np.ndarray:
    """A path (read with EXIF orientation etc.) or an (H, W, 3) uint8 RGB array."""
    from infoswap.io.images import read_image

    if isinstance(item, (str, Path)):
        return read_image(item).pixels
    pixels = np.asarray(item)
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise InfoswapError(f"an image array must be (H, W, 3) uint8 RGB, got {pixels.shape} {pixels.dtype}")
    return pixels


class Swapper:
    """A loaded generator plus the face pipeline around it; build it with `Swapper.from_pretrained`."""

    def __init__(self, model: InfoSwap, finder: FaceFinder | None = None, *, batch_size: int = DEFAULT_BATCH,
                 seed: int = 0, color_match: bool = True, checkpoint: Path | None = None):
        import torch

        from infoswap.faces.detect import DEFAULT_MIN_SCORE, SsdFaceDetector
        from infoswap.faces.finder import FaceFinder
        from infoswap.faces.landmarks import LandmarkPredictor

        if batch_size < 1:
            raise InfoswapError(f"--batch-size must be ≥ 1, got {batch_size}")
        self.model = model
        self.device = next(model.parameters()).device
        self.finder = finder if finder is not None else FaceFinder(
            detector=SsdFaceDetector(min_score=DEFAULT_MIN_SCORE, device=self.device),
            landmarks=LandmarkPredictor(device=self.device))
        self.batch_size = batch_size
        self.seed = seed
        self.color_match = color_match
        self.checkpoint = checkpoint
        self.resolution = model.cfg.resolution
        with torch.inference_mode():
            self._noise = model.noise(1, self._generator())  # ε_i, (1, C_i, H_i, W_i): one draw for the run
        self._selection_recognizer: Recognizer | None = None

    @classmethod
    def from_pretrained(cls, path_or_name: str | Path | None = None, *, preset: int | None = None,
                        recognizer: str | None = None, device: str = "auto", **kwargs) -> Swapper:
        """Loads a network snapshot (a path, a run folder, or None/"default" for the shipped demo checkpoint)."""
        from infoswap.swap.pretrained import load_generator

        model, path = load_generator(path_or_name, preset=preset, recognizer=recognizer, device=_device(device))
        return cls(model, checkpoint=path, **kwargs)

    # --- pieces -----------------------------------------------------------------------------------

    def _generator(self) -> torch.Generator:
        import torch

        return torch.Generator(device=self.device).manual_seed(self.seed)

    def _to_batch(self, crops: Sequence[np.ndarray]) -> torch.Tensor:
        """(N, S, S, 3) uint8 crops -> (N, 3, S, S) float in [-1, 1] on the model's device."""
        import torch

        batch = torch.from_numpy(np.stack(crops)).to(self.device)
        return batch.permute(0, 3, 1, 2).float() / 127.5 - 1.0

    def selection_recognizer(self) -> Recognizer:
        """The dlib recogniser on CPU that reference selection's threshold was measured with."""
        if self._selection_recognizer is None:
            from infoswap.recognition.registry import load_recognizer

            own = self.model.recognizer
            on_cpu = self.device.type == "cpu"
            self._selection_recognizer = own if own.name == "dlib" and on_cpu else load_recognizer("dlib")
        return self._selection_recognizer

    # --- source -----------------------------------------------------------------------------------

    def source_identity(self, sources: ImageLike | Sequence[ImageLike], *,
                        source_face_index: int | None = None) -> SourceIdentity:
        """The identity of one person from one or several photos (the mean of their z̃_sid).

        Each photo must show exactly one face, unless `source_face_index` picks one (0 is the leftmost).
        """
        import torch

        from infoswap.faces.align import align_face

        items = [sources] if isinstance(sources, (str, Path, np.ndarray)) else list(sources)
        if not items:
            raise InfoswapError("no source image given")
        crops, labels = [], []
        for position, item in enumerate(items):
            label = _label(item, position)
            pixels = load_pixels(item)
            faces = self.finder(pixels)
            if not faces:
                raise InfoswapError(f"{label}: no face found in the source image")
            if source_face_index is None:
                if len(faces) > 1:
                    raise InfoswapError(f"{label}: the source image shows {len(faces)} faces; pick one with "
                                        "--source-face-index (0 is the leftmost)")
                face = faces[0]
            elif 0 <= source_face_index < len(faces):
                face = faces[source_face_index]
            else:
                raise InfoswapError(f"{label}: --source-face-index {source_face_index} is out of range "
                                    f"(the source shows {len(faces)} face{'s' if len(faces) > 1 else ''})")
            crops.append(align_face(pixels, face, self.resolution).crop)
            labels.append(label)
        with torch.inference_mode():  # one photo at a time, each with the same noise: order-independent
            z = torch.cat([self.model.source_identity(self._to_batch([crop]), self._generator()) for crop in crops])
        return SourceIdentity(z.mean(0, keepdim=True), tuple(labels))

    # --- target faces -----------------------------------------------------------------------------

    def face_selector(self, mode: str = "all", *, index: int | None = None, reference: ImageLike | None = None,
                      threshold: float = DEFAULT_THRESHOLD) -> FaceSelector:
        """A checked selector; a reference photo is embedded here, once (its largest face)."""
        check_selection(mode, index=index, has_reference=reference is not None, threshold=threshold)
        if mode == "reference":
            pixels = load_pixels(reference)
            label = str(reference) if isinstance(reference, (str, Path)) else "reference image"
            embedding = embed_reference(pixels, self.finder(pixels), self.selection_recognizer(), label)
            return FaceSelector(mode, index, embedding, threshold)
        return FaceSelector(mode, index, None, threshold)

    def select(self, image: np.ndarray, faces: list[Face], selector: FaceSelector) -> list[Face]:
        """The faces of `image` the selector picks; an index past the last face selects none."""
        if selector.mode == "index" and not any(face.index == selector.index for face in faces):
            return []
        embeddings = None
        if selector.mode == "reference":
            embeddings = embed_faces(image, faces, self.selection_recognizer())
        return select_faces(faces, selector.mode, index=selector.index, reference_embedding=selector.reference,
                            embeddings=embeddings, threshold=selector.threshold)

    def generate(self, identity: SourceIdentity, crops: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Swapped faces (S, S, 3) uint8 for aligned crops (S, S, 3) uint8, `batch_size` at a time."""
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(crops), self.batch_size):
                x = self._to_batch(crops[start : start + self.batch_size])  # (B, 3, S, S)
                y = self.model.swap(None, x, z_src=identity.vector, noise=self._noise)
                pixels = ((y.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
                out.extend(pixels.permute(0, 2, 3, 1).cpu().numpy())
        return out

    def render(self, identity: SourceIdentity, images: Sequence[np.ndarray], faces: Sequence[list[Face]],
               *, mark: bool = True) -> list[SwapResult]:
        """Swaps the given faces of each image (one generator pass over all of them) and, with `mark`,
        watermarks the images that changed; images with no face come back as they are."""
        from infoswap.faces.align import align_face
        from infoswap.faces.blend import paste_back
        from infoswap.swap import watermark

        start = time.perf_counter()
        aligned = [[align_face(image, face, self.resolution) for face in chosen]
                   for image, chosen in zip(images, faces)]
        generated = iter(self.generate(identity, [a.crop for per_image in aligned for a in per_image]))
        results = []
        for image, per_image in zip(images, aligned):
            out, notes = image, []
            for a in per_image:
                out = paste_back(out, a, next(generated), color_match=self.color_match)
            if per_image and mark:
                try:
                    out = watermark.embed(out)
                except ValueError:
                    notes.append(f"image {image.shape[1]}×{image.shape[0]} is too small to carry the invisible "
                                 "watermark; only the file metadata marks it")
            results.append(SwapResult(out, len(per_image), 0.0, notes))
        share = (time.perf_counter() - start) / max(len(results), 1)
        for result in results:
            result.seconds = share
        return results

    # --- the one-call API -------------------------------------------------------------------------

    def swap(self, source: ImageLike | Sequence[ImageLike] | SourceIdentity, target: ImageLike, *,
             face_selector: str | FaceSelector = "all", face_index: int | None = None,
             reference: ImageLike | None = None, reference_threshold: float = DEFAULT_THRESHOLD,
             source_face_index: int | None = None, mark: bool = True) -> SwapResult:
        """Swaps `source` (photo(s) or a SourceIdentity) into the selected faces of `target`.

        `result.image` is the swapped image, watermarked unless `mark` is False (for writers that mark
        it themselves); `result.faces == 0` means no face was selected and it is the target unchanged.
        """
        identity = source if isinstance(source, SourceIdentity) else \
            self.source_identity(source, source_face_index=source_face_index)
        selector = face_selector if isinstance(face_selector, FaceSelector) else \
            self.face_selector(face_selector, index=face_index, reference=reference, threshold=reference_threshold)
        pixels = load_pixels(target)
        start = time.perf_counter()
        chosen = self.select(pixels, self.finder(pixels), selector)
        if not chosen:
            return SwapResult(pixels, 0, time.perf_counter() - start, ["no selected face: target unchanged"])
        result = self.render(identity, [pixels], [chosen], mark=mark)[0]
        result.seconds = time.perf_counter() - start
        return result


def check_selection(mode: str, *, index: int | None, has_reference: bool, threshold: float) -> None:
    """Raises for face-selection settings that cannot work; needs no model, so the CLI checks them first."""
    if mode not in SELECT_MODES:
        raise InfoswapError(f"--face-selector {mode!r}: choose one of {', '.join(SELECT_MODES)}")
    if mode == "index" and index is None:
        raise InfoswapError("--face-selector index needs --face-index")
    if mode == "reference" and not has_reference:
        raise InfoswapError("--face-selector reference needs --reference (a photo of the person to replace)")
    if not 0 < threshold < 2:
        raise InfoswapError(f"--reference-threshold must lie in (0, 2) (a cosine distance), got {threshold}")


def _device(name: str) -> str:
    """"auto" -> cuda when available, else cpu; anything else as given."""
    if name != "auto":
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def timing_line(faces: int, seconds: float, resolution: int) -> str:
    """The log line the README quotes, e.g. "swapped 1 face in 0.41 s (0.41 s/face at 128 px)"."""
    noun = "face" if faces == 1 else "faces"
    return f"swapped {faces} {noun} in {seconds:.2f} s ({seconds / max(faces, 1):.2f} s/face at {resolution} px)"
