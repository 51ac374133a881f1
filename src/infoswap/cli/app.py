"""The typer app that every `infoswap` subcommand module registers itself on."""

import typer

from infoswap import __version__

app = typer.Typer(
    name="infoswap",
    help="InfoSwap identity swapping: swap, train, evaluate and inspect. Every output is marked as synthetic.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"infoswap {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """InfoSwap identity swapping."""
