"""`infoswap inspect FILE`: is this image or video marked as made by infoswap (watermark, metadata)?"""

import json
from pathlib import Path
from typing import Any

import typer

from infoswap.cli.app import app


def _as_text(path: Path, report: dict[str, Any]) -> str:
    mark, meta = report["watermark"], report["metadata"]
    lines = [str(path)]
    if mark["found"]:
        lines.append(f"  watermark: found, payload {mark['payload']!r}")
    else:
        lines.append("  watermark: not found")
    if "frames_checked" in mark:
        lines.append(f"             in {mark['frames_found']} of {mark['frames_checked']} sampled frames "
                     f"({mark['share']:.0%})")
    if meta["ai_generated"]:
        lines.append(f"  metadata:  marked as AI-generated ({meta['digital_source_type']})")
    else:
        lines.append("  metadata:  no AI-generated marking")
    labels = {"format": "format", "creator_tool": "creator tool", "software": "software", "description": "description"}
    lines += [f"    {label}: {meta[key]}" for key, label in labels.items() if meta.get(key)]
    if "video" in meta:
        v = meta["video"]
        lines.append(f"    video: {v['width']}×{v['height']}, {v['frames']} frames at {v['fps']:.3f} fps, "
                     f"rotation {v['rotation']}°, {'with' if v['has_audio'] else 'no'} audio")
    return "\n".join(lines)


@app.command()
def inspect(
    file: Path = typer.Argument(..., help="Image or video to check."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of text."),
    frames: int = typer.Option(10, "--frames", min=1, max=1000, show_default=True,
                               help="Video only: how many evenly spaced frames to check for the watermark."),
) -> None:
    """Report the invisible infoswap watermark and the AI-generated metadata of an image or video."""
    from infoswap.swap.provenance import read_provenance

    report = read_provenance(file, frames=frames)
    typer.echo(json.dumps(report, indent=2) if as_json else _as_text(file, report))
