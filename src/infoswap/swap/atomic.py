"""Outputs appear whole or not at all: write to a hidden temp file beside the target, then rename."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infoswap.errors import InfoswapError


def _default_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yields a temp path in `path`'s folder (same suffix) and renames it onto `path` when the block succeeds.

    Any exception, KeyboardInterrupt included, removes the temp file, so no half-written output is left
    (only a hard kill can leave a hidden `.<name>.*.partial<suffix>` behind).
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InfoswapError(f"{folder}: output folder does not exist")
    if path.is_dir():
        raise InfoswapError(f"{path}: is a folder, expected an output file name")
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".partial{path.suffix}", dir=folder)
    except OSError as e:
        raise InfoswapError(f"{folder}: cannot write to the output folder ({e.strerror})") from None
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
        os.chmod(temp, _default_mode())  # mkstemp makes it 0600; give it the mode a plain open() would
        try:
            os.replace(temp, path)
        except OSError as e:
            raise InfoswapError(f"{path}: cannot write the output ({e.strerror})") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
