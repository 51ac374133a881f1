"""Output-file flags checked before any model loads or any work starts: the name says the format that is
written, and the folder it goes in exists."""

from __future__ import annotations

from pathlib import Path

from infoswap.errors import InfoswapError


def check_output_file(flag: str, path: Path | None, suffix: str | None = None, what: str = "the output") -> None:
    """Refuses `path` (given with `flag`; None: the flag was left out) unless its folder exists and, when
    `suffix` is given, its name ends in it; `what` names the file in the message."""
    if path is None:
        return
    if suffix is not None and path.suffix.lower() != suffix:
        raise InfoswapError(f"{flag} {path}: {what} is written as {suffix}; name it *{suffix}")
    if not path.parent.is_dir():
        raise InfoswapError(f"{flag} {path}: folder {path.parent} does not exist")
