"""`infoswap faces IMAGE`: the detected faces as a table or JSON, optionally drawn."""

from pathlib import Path

import typer

from infoswap.cli.app import app


@app.command()
def faces(
    image: Path = typer.Argument(..., help="Photo to analyse (jpg, png, webp, …)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
) -> None:
    """List every detected face: index (left to right), box, score and landmarks."""
    raise NotImplementedError
