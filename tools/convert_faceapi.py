"""Rebuilds the shipped face-network weights from the npm package @vladmandic/face-api 1.7.15 (MIT).

    python tools/convert_faceapi.py                 # runs `npm pack` in a temp folder
    python tools/convert_faceapi.py --tarball X.tgz # or uses a tarball you already have

Checks the tarball's sha256, reads each tfjs model, maps it onto the PyTorch port's parameter names
(each port's mapping lives in `infoswap.weights.faceapi.<net>`), and writes quantised safetensors plus
SHA256SUMS into src/infoswap/weights/data/.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import subprocess
import tarfile
import tempfile
from pathlib import Path

from infoswap.weights.store import CHECKSUMS, SHIPPED_DIR, save_state, sha256_of
from infoswap.weights.tfjs import read_tfjs_weights

PACKAGE = "@vladmandic/face-api@1.7.15"
TARBALL_SHA256 = "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031"
# Each module defines MANIFEST (tfjs model name), OUTPUT (file name) and convert(tfjs) -> PyTorch tensors.
NETS = ("detector", "landmarks", "recognition")


def fetch_tarball(workdir: Path) -> Path:
    subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=workdir, check=True, capture_output=True)
    return next(workdir.glob("*.tgz"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tarball", type=Path, help="face-api 1.7.15 tarball (default: npm pack it)")
    parser.add_argument("--out", type=Path, default=SHIPPED_DIR)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.tarball or fetch_tarball(Path(tmp))
        digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
        if digest != TARBALL_SHA256:
            raise SystemExit(f"{tarball}: sha256 {digest} is not the expected {TARBALL_SHA256}")
        with tarfile.open(tarball) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith("package/model/")]
            tar.extractall(tmp, members=members, filter="data")
        model_dir = Path(tmp) / "package" / "model"

        args.out.mkdir(parents=True, exist_ok=True)
        for net in NETS:
            port = importlib.import_module(f"infoswap.weights.faceapi.{net}")
            tfjs = read_tfjs_weights(model_dir / f"{port.MANIFEST}-weights_manifest.json")
            tensors = port.convert(tfjs)
            metadata = {"origin": f"npm {PACKAGE} model/{port.MANIFEST}", "licence": "MIT", "net": net}
            save_state(args.out / port.OUTPUT, tensors, metadata)
            print(f"{port.OUTPUT}: {len(tensors)} tensors from {len(tfjs)} tfjs tensors")

    files = sorted(p for p in args.out.glob("*.safetensors"))
    (args.out / CHECKSUMS.name).write_text("".join(f"{sha256_of(p)}  {p.name}\n" for p in files))
    print(f"wrote {args.out / CHECKSUMS.name}")


if __name__ == "__main__":
    main()
