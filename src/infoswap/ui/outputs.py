"""Where the web app writes its results: one private temp folder, names made here, old files pruned.

An output's name never comes from an upload (`infoswap-swap-20250101-120000-3fa9c2.png`), so a browser
cannot choose where anything is written. Files older than `max_age` seconds are removed as new ones are
made, and the folder goes when the app exits.
"""

from __future__ import annotations

import atexit
import secrets
import shutil
import tempfile
import time
from pathlib import Path

MAX_AGE = 3600.0  # seconds a result stays downloadable


class OutputFolder:
    def __init__(self, max_age: float = MAX_AGE):
        self.path = Path(tempfile.mkdtemp(prefix="infoswap-ui-"))
        self.max_age = max_age
        atexit.register(shutil.rmtree, self.path, ignore_errors=True)

    def new(self, kind: str, suffix: str) -> Path:
        """A fresh, unused path for a result of `kind` ("swap", "explain") with `suffix` (".png")."""
        self.prune()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return self.path / f"infoswap-{kind}-{stamp}-{secrets.token_hex(3)}{suffix}"

    def prune(self) -> None:
        cutoff = time.time() - self.max_age
        for old in self.path.iterdir():
            try:
                if old.stat().st_mtime < cutoff:
                    old.unlink()
            except OSError:  # gone already, or being written: try again next time
                pass
