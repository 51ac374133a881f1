"""`infoswap` console script: importing the command modules registers them on the app."""

import sys

import typer

from infoswap.cli.app import app
from infoswap.errors import InfoswapError

# One module per user task; each registers its command(s) on `app` when imported.
from infoswap.cli import faces  # noqa: E402,F401
from infoswap.cli import inspect  # noqa: E402,F401
from infoswap.cli import align  # noqa: E402,F401
from infoswap.cli import convert  # noqa: E402,F401
from infoswap.cli import calibrate, train  # noqa: E402,F401
from infoswap.cli import evaluate  # noqa: E402,F401
from infoswap.cli import swap  # noqa: E402,F401
from infoswap.cli import forensics  # noqa: E402,F401
from infoswap.cli import ui  # noqa: E402,F401
from infoswap.cli import explain  # noqa: E402,F401


def main() -> None:
    """Runs the app; a user-facing problem becomes one line on stderr and a non-zero exit."""
    try:
        app()
    except InfoswapError as e:
        typer.echo(f"infoswap: error: {e}", err=True)
        sys.exit(e.exit_code)
    except OSError as e:  # the file system said no (disk full, read-only, a file where a folder should be)
        where = e.filename2 or e.filename
        typer.echo(f"infoswap: error: {f'{where}: ' if where else ''}{e.strerror or e}", err=True)
        sys.exit(InfoswapError.exit_code)
    except KeyboardInterrupt:
        typer.echo("infoswap: interrupted", err=True)
        sys.exit(130)
