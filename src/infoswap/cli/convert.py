"""`infoswap convert CKPT --arch A --out X.safetensors`: a checkpoint people have (a recogniser, or
pytorch-fid's FID Inception for `evaluate --inception`), as safetensors."""

from pathlib import Path

import typer

from infoswap.cli.app import app


@app.command()
def convert(
    checkpoint: Path = typer.Argument(..., help="The .pth you have, e.g. InsightFace_Pytorch model_ir_se50.pth, "
                                                "an arcface_torch backbone.pth, InfoSwap's model_128_ir_se50.pth, "
                                                "or pytorch-fid's pt_inception-2015-12-05-6726825d.pth."),
    arch: str = typer.Option(..., "--arch", help="Key layout: irse50 (InsightFace_Pytorch, InfoSwap), "
                                                 "iresnet50 (insightface arcface_torch), or inception (pytorch-fid's "
                                                 "FID Inception-v3, for 'infoswap evaluate --inception'; its "
                                                 "1008-class fc head is left out, FID does not use it)."),
    out: Path = typer.Option(..., "--out", "-o", help="Safetensors file to write."),
) -> None:
    """Convert a checkpoint (read with weights_only=True, never unpickling code) into safetensors: a recogniser,
    or the FID Inception-v3 weights that 'infoswap evaluate --inception' needs (infoswap never downloads them)."""
    from infoswap.errors import InfoswapError
    from infoswap.evaluate.inception_weights import ARCH as INCEPTION, convert_inception
    from infoswap.recognition.convert import convert_checkpoint
    from infoswap.recognition.irse50 import ARCHS

    if arch == INCEPTION:
        meta = convert_inception(checkpoint, out)
        described = "FID Inception-v3 (2015-12-05 graph, 2048-D pool3 features)"
    elif arch in ARCHS:
        meta = convert_checkpoint(checkpoint, arch, out)
        size = meta["input_size"]
        described = f"{meta['arch']}, {size}×{size} {meta['channels'].upper()} input"
    else:
        raise InfoswapError(f"--arch must be one of {sorted([*ARCHS, INCEPTION])}, got {arch!r}")
    typer.echo(f"wrote {out}: {described}, from {meta['source']} (sha256 {meta['source_sha256'][:12]}…)")
