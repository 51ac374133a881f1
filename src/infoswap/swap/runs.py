"""One swap run over a target's files: an image, a folder of images, or a video, written with provenance.

The source identity and the face selector are made once by the caller and passed in, so every face of
every image and frame reuses them. `warn` and `echo` are how a run talks to its user (the CLI's stderr
and stdout); the functions never print.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from infoswap.errors import InfoswapError
from infoswap.faces.tracker import DEFAULT_REDETECT_EVERY
from infoswap.swap import targets
from infoswap.swap.frames import FrameCounts, FrameSwapper
from infoswap.swap.swapper import FaceSelector, SourceIdentity, SwapResult, Swapper, timing_line

Say = Callable[[str], None]


def _write_result(result: SwapResult, target: Path, output: Path) -> None:
    """A swapped image with its synthetic-media metadata, or the target copied through unchanged."""
    from infoswap.swap.provenance import save_marked_image

    if result.swapped:
        try:
            save_marked_image(output, result.image)  # it adds the watermark as well as the metadata
        except ValueError as e:  # the watermark needs about 176 × 176 px
            raise InfoswapError(f"{target}: {e}") from None
    else:
        targets.copy_through(target, result.image, output)


def swap_image(swapper: Swapper, identity: SourceIdentity, selector: FaceSelector, target: Path, output: Path,
               *, warn: Say, echo: Say) -> SwapResult:
    result = swapper.swap(identity, target, face_selector=selector, mark=False)
    if not result.swapped:
        warn(f"{target}: no face selected; copied through unchanged to {output}")
    _write_result(result, target, output)
    if result.swapped:
        echo(timing_line(result.faces, result.seconds, swapper.resolution))
    return result


@dataclass
class FolderSummary:
    total: int = 0
    swapped: int = 0
    faces: int = 0
    no_face: int = 0  # copied through unchanged
    skipped: int = 0  # output already there and no --overwrite
    failed: int = 0
    seconds: float = 0.0
    rows: list[tuple[Path, Path, Path]] = field(default_factory=list)

    def line(self) -> str:
        text = (f"{self.swapped} swapped, {self.no_face} copied through with no face, {self.skipped} skipped "
                f"(already there), {self.failed} failed, of {self.total} images")
        if self.faces:
            text += f"; {self.faces / self.seconds if self.seconds else 0:.2f} faces/s"
        return text


def swap_folder(swapper: Swapper, identity: SourceIdentity, selector: FaceSelector, target: Path, output: Path,
                *, overwrite: bool, manifest: Path | None, progress: bool, warn: Say) -> FolderSummary:
    """Every image under `target` into the mirrored path under `output`; one bad image never stops the run."""
    jobs = targets.folder_jobs(target, output)
    summary = FolderSummary(total=len(jobs))
    if not jobs:
        warn(f"{target}: no images found ({', '.join(targets.IMAGE_SUFFIXES)})")
    output.mkdir(exist_ok=True)
    source = Path(identity.sources[0])
    for job in tqdm(jobs, desc="swap", unit="image", disable=not progress):
        if job.output.exists() and not overwrite:
            summary.skipped += 1
            continue
        try:
            job.output.parent.mkdir(parents=True, exist_ok=True)
            result = swapper.swap(identity, job.target, face_selector=selector, mark=False)
            _write_result(result, job.target, job.output)
        except (InfoswapError, OSError) as e:
            summary.failed += 1
            warn(f"{job.target}: {e}")
            continue
        if result.swapped:
            summary.swapped += 1
            summary.faces += result.faces
            summary.seconds += result.seconds
            summary.rows.append((source, job.target, job.output))
        else:
            summary.no_face += 1
    if manifest is not None:
        targets.write_manifest(manifest, summary.rows)
    return summary


def swap_video(swapper: Swapper, identity: SourceIdentity, selector: FaceSelector, target: Path, output: Path,
               *, codec: str, crf: int, smooth: float, progress: bool, warn: Say, echo: Say,
               redetect_every: int = DEFAULT_REDETECT_EVERY) -> FrameCounts:
    """Streams the video through detect -> smooth -> swap -> paste; audio copied, frames never on disk."""
    from infoswap.swap.video import probe_video, transcode

    info = probe_video(target)
    frames = FrameSwapper(swapper, identity, selector, smoothing=smooth, fps=float(info.fps or 30.0),
                          redetect_every=redetect_every)
    transcode(target, output, frames, codec=codec, crf=crf, batch_size=swapper.batch_size, progress=progress)
    counts = frames.counts
    if counts.faces == 0:
        warn(f"{target}: no face selected in any of its {counts.frames} frames; the video was re-encoded unchanged")
    else:
        echo(timing_line(counts.faces, counts.seconds, swapper.resolution)
             + f"; {counts.swapped_frames} of {counts.frames} frames had a face")
    return counts
