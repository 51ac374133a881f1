"""`infoswap ui`: the web app, on this computer only unless another address is asked for."""

from __future__ import annotations

import ipaddress

import typer

from infoswap.cli.app import app
from infoswap.errors import InfoswapError


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
def ui(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on. Anything but localhost lets "
                             "other computers use the app (and your CPU/GPU).", show_default=True),
    port: int = typer.Option(7860, "--port", min=1, max=65535, help="Port to listen on.", show_default=True),
    checkpoint: str | None = typer.Option(None, "--checkpoint", help="Network snapshot (.safetensors) or run "
                                          "folder; default: the shipped demo checkpoint."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N.", show_default=True),
) -> None:
    """Open the web app: image and video swap, inspect and explain, in the browser."""
    if not _is_loopback(host):
        typer.echo(f"infoswap: warning: listening on {host}: anyone who can reach this address can use the "
                   "app, with no login; use --host 127.0.0.1 to keep it on this computer", err=True)
    from infoswap.swap.pretrained import check_safetensors_header, resolve_checkpoint

    check_safetensors_header(resolve_checkpoint(checkpoint))  # a wrong path fails before anything slow loads
    try:
        from infoswap.ui.app import serve
    except ModuleNotFoundError as e:
        if not e.name or e.name.startswith("infoswap"):
            raise
        raise InfoswapError(f"infoswap ui needs the web app's packages ({e.name} is missing): "
                            "pip install gradio") from None
    from infoswap.swap.swapper import Swapper
    from infoswap.ui.backend import Backend

    swapper = Swapper.from_pretrained(checkpoint, device=device)  # a checkpoint that does not load fails here
    serve(Backend(swapper), host, port)
