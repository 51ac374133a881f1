"""What the IIB keeps of a face: the 10 information controllers λ_i as a heatmap grid (App. Fig. 1).

λ_i (B, C_i, H_i, W_i) is averaged over channels, as the appendix's figure does, and laid over the aligned
face on one fixed 0–1 scale: red (λ ≈ 1) is identity information kept for the source, blue (λ ≈ 0) is
replaced by noise; the target keeps 1 − λ. A freshly initialised model shows λ ≈ 0.993 everywhere
(r = 5); training moves it. `infoswap explain` and the web app's explain tab are thin shells over this.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from infoswap.errors import InfoswapError

if TYPE_CHECKING:
    from infoswap.faces.finder import FaceFinder
    from infoswap.model.infoswap import InfoSwap

_COLUMNS = 5  # taps per row of the grid


@dataclass
class Explanation:
    face: np.ndarray  # the aligned face, (S, S, 3) uint8 RGB at the model's resolution
    maps: list[np.ndarray]  # λ_i averaged over channels, 10 × (H_i, W_i) float32 in [0, 1]
    means: list[float]  # mean λ_i over all of tap i's units

    def table(self) -> list[tuple[int, float]]:
        """(tap number from 1, mean λ) rows."""
        return [(i + 1, m) for i, m in enumerate(self.means)]


def lambda_maps(model: InfoSwap, face: np.ndarray) -> Explanation:
    """The IIB's λ_i for one aligned face (S, S, 3) uint8, S the model's resolution."""
    import torch

    size = model.cfg.resolution
    if face.shape != (size, size, 3) or face.dtype != np.uint8:
        raise InfoswapError(f"explain needs an aligned {size}×{size} RGB face, got {face.shape} {face.dtype}")
    device = next(model.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(face)).to(device).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.inference_mode():
        lambdas = model.encode(x, identity=False, information=False).lambdas  # 10 × (1, C_i, H_i, W_i)
    maps = [lam[0].float().mean(0).cpu().numpy() for lam in lambdas]
    means = [float(lam.float().mean()) for lam in lambdas]
    return Explanation(np.ascontiguousarray(face), maps, means)


def explain_photo(model: InfoSwap, finder: FaceFinder, pixels: np.ndarray, *, face_index: int | None = None,
                  label: str = "image") -> Explanation:
    """λ maps of one face of a photo (H, W, 3) uint8: `face_index` (0 is the leftmost), else the largest."""
    from infoswap.faces.align import align_face
    from infoswap.faces.select import select_faces

    faces = finder(pixels)
    if not faces:
        raise InfoswapError(f"{label}: no face found")
    if face_index is None:
        face = select_faces(faces, "largest")[0]
    else:
        try:
            face = select_faces(faces, "index", index=face_index)[0]
        except InfoswapError as e:
            raise InfoswapError(f"{label}: {e}") from None
    return lambda_maps(model, align_face(pixels, face, model.cfg.resolution).crop)


def render_grid(explanation: Explanation) -> np.ndarray:
    """The aligned face and the 10 λ heatmaps over it, titled with their means: (H, W, 3) uint8 RGB."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = -(-len(explanation.maps) // _COLUMNS)
    figure = Figure(figsize=(2.0 * (_COLUMNS + 1), 2.15 * rows), dpi=100, layout="constrained")
    canvas = FigureCanvasAgg(figure)
    grid = figure.add_gridspec(rows, _COLUMNS + 1)
    size = explanation.face.shape[0]
    extent = (0, size, size, 0)  # every map stretched over the whole face
    gray = explanation.face.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    axes = figure.add_subplot(grid[0, 0])
    axes.imshow(explanation.face)
    axes.set_title("aligned face", fontsize=9)
    axes.set_axis_off()
    shown = None
    for i, (lam, mean) in enumerate(zip(explanation.maps, explanation.means)):
        axes = figure.add_subplot(grid[i // _COLUMNS, 1 + i % _COLUMNS])
        axes.imshow(gray, cmap="gray", extent=extent)
        shown = axes.imshow(lam, cmap="jet", vmin=0.0, vmax=1.0, alpha=0.55, extent=extent,
                            interpolation="bilinear")
        axes.set_title(f"tap {i + 1}: mean λ {mean:.3f}", fontsize=9)
        axes.set_axis_off()
    if rows > 1 and shown is not None:  # the colour scale under the face
        host = figure.add_subplot(grid[1:, 0])
        host.set_axis_off()
        figure.colorbar(shown, ax=host, fraction=0.5, label="λ (identity kept)")
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def write_grid(path: str | Path, explanation: Explanation) -> Path:
    """The grid as a PNG at `path`, written atomically."""
    from PIL import Image

    from infoswap.swap.atomic import atomic_output

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise InfoswapError(f"--out {path}: the heatmap grid is written as .png")
    with atomic_output(path) as temp:
        Image.fromarray(render_grid(explanation)).save(temp, "PNG")
    return path
