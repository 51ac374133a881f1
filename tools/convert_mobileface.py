"""Rebuilds the MobileFace identity judge's weights from github.com/becauseofAI/MobileFace (MIT).

    git -C <snapshot of becauseofAI/MobileFace> show \
        128cea33b928dc9bb6d1963202b57a97f5661ccf:MobileFace_Identification/MobileFace_Identification_V2-0000.params > V2.params
    python tools/convert_mobileface.py --params V2.params

Checks the file's sha256, reads the MXNet arrays (`infoswap.weights.mxnet.params`), folds each batch norm
into the layer before it (`infoswap.recognition.mobileface.convert`), writes float16 safetensors and
updates its line of SHA256SUMS (the other lines stay as they are).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from infoswap.recognition import mobileface
from infoswap.weights.mxnet.params import read_params
from infoswap.weights.store import CHECKSUMS, SHIPPED_DIR, record_checksum, save_state, sha256_of
from infoswap.weights.tfjs import TfjsTensor

COMMIT = "128cea33b928dc9bb6d1963202b57a97f5661ccf"
PARAMS = "MobileFace_Identification/MobileFace_Identification_V2-0000.params"
PARAMS_SHA256 = "750057619a1eef8acb320339aebf0bbcf191497e1396a361c8aaba517bbe825e"
ORIGIN = f"github.com/becauseofAI/MobileFace@{COMMIT} {PARAMS} (MIT), batch norms folded"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, required=True, help=f"{PARAMS} at commit {COMMIT[:12]}")
    parser.add_argument("--out", type=Path, default=SHIPPED_DIR)
    args = parser.parse_args()
    if not args.params.is_file():
        raise SystemExit(f"{args.params}: no such file")
    digest = sha256_of(args.params)
    if digest != PARAMS_SHA256:
        raise SystemExit(f"{args.params}: sha256 {digest} is not the pinned {PARAMS_SHA256}")
    state = mobileface.convert(read_params(args.params))
    tensors = {name: TfjsTensor(values.astype(np.float16)) for name, values in state.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / mobileface.WEIGHTS
    save_state(target, tensors, {"origin": ORIGIN, "licence": "MIT", "net": "MobileFace_Identification_V2"})
    record_checksum(target, args.out / CHECKSUMS.name)
    print(f"{mobileface.WEIGHTS}: {len(tensors)} tensors from MXNet; updated {CHECKSUMS.name}")


if __name__ == "__main__":
    main()
