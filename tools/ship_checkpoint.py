"""Turns a training checkpoint into the demo checkpoint that ships in the package (issue 10).

    python tools/ship_checkpoint.py RUN_DIR_OR_SNAPSHOT [--note "..."]

Keeps only the generator that inference uses (the EMA weights when the run kept them), with the model
config, the calibrated tap statistics (they live in the IIB's buffers) and where it came from. Weights are
stored as float16, which halves the file (they load into float32 modules); the tap statistics stay float32.
It writes `src/infoswap/weights/data/infoswap-demo-128.safetensors` with a canonical header (so the same
snapshot always gives the same bytes) and records its sha256 in SHA256SUMS beside the other shipped weights.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from infoswap.swap.pretrained import DEMO_CHECKPOINT, check_safetensors_header, resolve_checkpoint
from infoswap.train.checkpoint import read_network_snapshot, write_network_snapshot
from infoswap.weights.store import SHIPPED_DIR, canonical_header, record_checksum, require_finite, sha256_of

KEPT_METADATA = ("train_config", "step", "recognizer", "stats_count")
FLOAT32_PREFIXES = ("iib.mean_", "iib.std_")  # the calibrated tap statistics


def halved(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: t.half() if t.is_floating_point() and not k.startswith(FLOAT32_PREFIXES) else t
            for k, t in state.items()}


def ship(snapshot: Path, note: str) -> Path:
    check_safetensors_header(snapshot)
    groups, config, meta = read_network_snapshot(snapshot)
    group = "ema" if "ema" in groups else "model"
    require_finite(groups[group], str(snapshot))
    metadata = {k: meta[k] for k in KEPT_METADATA if k in meta}
    metadata["weights"] = f"{group} generator of {snapshot.name}"
    if note:
        metadata["note"] = note
    out = SHIPPED_DIR / DEMO_CHECKPOINT
    tmp = out.with_suffix(".tmp")
    write_network_snapshot(tmp, {"model": halved(groups[group])}, config, metadata)
    tmp.write_bytes(canonical_header(tmp.read_bytes()))
    tmp.replace(out)
    record_checksum(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("snapshot", help="a network-snapshot-*.safetensors, or a run folder (its newest)")
    parser.add_argument("--note", default="", help="a line kept in the file's metadata")
    args = parser.parse_args()
    out = ship(resolve_checkpoint(args.snapshot), args.note)
    size = out.stat().st_size / 2**20
    print(json.dumps({"file": str(out), "MiB": round(size, 1), "sha256": sha256_of(out)}))


if __name__ == "__main__":
    main()
