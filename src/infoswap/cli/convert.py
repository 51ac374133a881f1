"""`infoswap convert CKPT --arch A --out X.safetensors`: a recogniser checkpoint people have, as safetensors."""

from pathlib import Path

import typer

from infoswap.cli.app import app


@app.command()
def convert(
    checkpoint: Path = typer.Argument(..., help="The .pth you have, e.g. InsightFace_Pytorch model_ir_se50.pth, "
                                                "an arcface_torch backbone.pth, or InfoSwap's model_128_ir_se50.pth."),
    arch: str = typer.Option(..., "--arch", help="Key layout: irse50 (InsightFace_Pytorch, InfoSwap) or "
                                                 "iresnet50 (insightface arcface_torch)."),
    out: Path = typer.Option(..., "--out", "-o", help="Safetensors file to write."),
) -> None:
    """Convert a recogniser checkpoint (read with weights_only=True, never unpickling code) into safetensors."""
    from infoswap.recognition.convert import convert_checkpoint

    meta = convert_checkpoint(checkpoint, arch, out)
    size = meta["input_size"]
    typer.echo(f"wrote {out}: {meta['arch']}, {size}×{size} {meta['channels'].upper()} input, "
               f"from {meta['source']} (sha256 {meta['source_sha256'][:12]}…)")
