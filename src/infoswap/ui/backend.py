"""The web app's work, in plain Python over the same API as the CLI: no gradio in here.

Each method takes the temp paths of uploads (the web server stores them; only their base names reach the
user), checks them against the limits, calls the Swapper (`infoswap.swap.swapper`), the face finder,
`read_provenance` or `infoswap.evaluate.explain`, and returns what the page shows plus a status line.
User-facing problems are InfoswapError; the app turns them into a message on the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from infoswap.errors import InfoswapError
from infoswap.ui.limits import Limits, check_image, check_media, check_video, upload_name
from infoswap.ui.outputs import OutputFolder

if TYPE_CHECKING:
    from infoswap.swap.swapper import FaceSelector, SourceIdentity, Swapper

PREVIEW_SIDE = 1024  # px: the face preview is shrunk to this, the swap itself runs at full size
VIDEO_CODEC, VIDEO_CRF, VIDEO_SMOOTH = "libx264", 18, 0.5  # the CLI's defaults


@dataclass
class Swapped:
    path: Path  # the result file, watermarked and tagged as AI-generated
    status: str


class Backend:
    """A loaded Swapper, the upload limits and the folder results go to; one per running app."""

    def __init__(self, swapper: Swapper, limits: Limits | None = None, outputs: OutputFolder | None = None):
        self.swapper = swapper
        self.limits = limits or Limits()
        self.outputs = outputs or OutputFolder()

    # --- checks -----------------------------------------------------------------------------------

    def _image(self, path: str | None, what: str) -> np.ndarray:
        from infoswap.io.images import read_image

        if not path:
            raise InfoswapError(f"no {what} uploaded")
        check_image(path, self.limits)
        return read_image(path).pixels

    def _identity(self, sources: Sequence[str] | None) -> SourceIdentity:
        sources = list(sources or [])
        if not sources:
            raise InfoswapError("no source photo uploaded: add one or more photos of the person to swap in")
        if len(sources) > self.limits.sources:
            raise InfoswapError(f"{len(sources)} source photos; up to {self.limits.sources} are averaged")
        for path in sources:
            check_image(path, self.limits)
        return self.swapper.source_identity([Path(p) for p in sources])

    def _selector(self, mode: str, index: float | None, reference: str | None) -> FaceSelector:
        if mode == "reference":
            if not reference:
                raise InfoswapError("the 'reference' selection needs a reference photo of the person to replace")
            check_image(reference, self.limits)
        face_index = None if index is None else int(index)
        if mode == "index" and (face_index is None or face_index < 0):
            raise InfoswapError("the 'index' selection needs a face index of 0 or more (0 is the leftmost)")
        return self.swapper.face_selector(mode, index=face_index, reference=Path(reference) if reference else None)

    # --- actions ----------------------------------------------------------------------------------

    def preview_faces(self, target: str | None) -> tuple[np.ndarray, str]:
        """The target with each detected face boxed and numbered, and how many there are."""
        import cv2

        from infoswap.faces.draw import draw_faces

        pixels = self._image(target, "target image")
        faces = self.swapper.finder(pixels)
        if not faces:
            raise InfoswapError(f"{upload_name(target)}: no face found in the target image")
        drawn = draw_faces(pixels, faces)
        scale = PREVIEW_SIDE / max(drawn.shape[:2])
        if scale < 1:
            size = (round(drawn.shape[1] * scale), round(drawn.shape[0] * scale))
            drawn = cv2.resize(drawn, size, interpolation=cv2.INTER_AREA)
        noun = "face" if len(faces) == 1 else "faces"
        return drawn, f"{len(faces)} {noun} found, numbered from 0 (the leftmost)."

    def swap_image(self, sources: Sequence[str] | None, target: str | None, mode: str = "all",
                   index: float | None = 0, reference: str | None = None) -> Swapped:
        """Swaps the source identity into the selected faces of the target; a PNG with provenance."""
        from infoswap.swap.provenance import save_marked_image
        from infoswap.swap.swapper import timing_line

        pixels = self._image(target, "target image")
        identity = self._identity(sources)
        selector = self._selector(mode, index, reference)
        result = self.swapper.swap(identity, pixels, face_selector=selector, mark=False)
        if not result.swapped:
            raise InfoswapError(f"{upload_name(target)}: no face selected in the target image; check the face "
                                "preview and the selection")
        path = save_marked_image(self.outputs.new("swap", ".png"), result.image)
        notes = "".join(f" {note}." for note in result.notes)
        return Swapped(path, timing_line(result.faces, result.seconds, self.swapper.resolution) + "." + notes)

    def swap_video(self, sources: Sequence[str] | None, video: str | None, mode: str = "all",
                   index: float | None = 0, reference: str | None = None) -> Swapped:
        """Streams the video through the swap (audio copied, every frame watermarked); an MP4."""
        from infoswap.swap.runs import swap_video

        if not video:
            raise InfoswapError("no video uploaded")
        check_video(video, self.limits)
        identity = self._identity(sources)
        selector = self._selector(mode, index, reference)
        said: list[str] = []
        path = self.outputs.new("swap", ".mp4")
        swap_video(self.swapper, identity, selector, Path(video), path, codec=VIDEO_CODEC, crf=VIDEO_CRF,
                   smooth=VIDEO_SMOOTH, progress=True, warn=said.append, echo=said.append)
        return Swapped(path, " ".join(said).replace(str(video), upload_name(video)))

    def inspect(self, upload: str | None) -> tuple[dict[str, Any], str]:
        """The watermark and metadata report of an image or video, and a one-line verdict."""
        from infoswap.swap.provenance import read_provenance

        if not upload:
            raise InfoswapError("no file uploaded")
        check_media(upload, self.limits)
        report = read_provenance(upload)
        mark, meta = report["watermark"], report["metadata"]
        verdict = [f"watermark found (payload “{mark['payload']}”)" if mark["found"] else "no watermark found",
                   "metadata marks it as AI-generated" if meta["ai_generated"] else "no AI-generated metadata"]
        return report, f"{upload_name(upload)}: {'; '.join(verdict)}."

    def explain(self, photo: str | None) -> tuple[np.ndarray, str, str]:
        """The λ heatmap grid of the photo's largest face, a one-row Markdown table of the per-tap means,
        and a status line."""
        from infoswap.evaluate.explain import explain_photo, render_grid

        pixels = self._image(photo, "photo")
        explanation = explain_photo(self.swapper.model, self.swapper.finder, pixels, label=upload_name(photo))
        rows = explanation.table()
        header = "| tap | " + " | ".join(str(tap) for tap, _ in rows) + " |"
        rule = "|---" * (len(rows) + 1) + "|"
        means = "| mean λ | " + " | ".join(f"{mean:.3f}" for _, mean in rows) + " |"
        return render_grid(explanation), "\n".join((header, rule, means)), f"λ maps of {upload_name(photo)}"
