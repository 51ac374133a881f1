"""Which identities are held out, and whose face goes into whose: deterministic, by a seeded hash of the name.

Identities are ranked by sha256("<seed>:<name>"); the first round(test_fraction · n) of them (at least 2)
form the test split. The rank depends only on the name and the seed, so sets built from the same folder
with different forgery methods share one split, and no identity is ever in both. Sources are paired within
a split (a fake's source face would otherwise carry a held-out identity into training): each identity
takes the next one's face in rank order, so every identity is a source once and never its own.
"""

from __future__ import annotations

import hashlib

from infoswap.errors import InfoswapError

MIN_PER_SPLIT = 2  # a fake needs a source of another identity in the same split


def _rank(identity: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{identity}".encode("utf-8")).hexdigest()


def assign_splits(identities: list[str], test_fraction: float, seed: int) -> dict[str, str]:
    """{identity: "train" | "test"} for the given distinct identities."""
    if not 0 < test_fraction < 1:
        raise InfoswapError(f"--test-fraction must lie strictly between 0 and 1, got {test_fraction}")
    names = sorted(set(identities), key=lambda name: (_rank(name, seed), name))
    if len(names) < 2 * MIN_PER_SPLIT:
        raise InfoswapError(f"found {len(names)} identit{'y' if len(names) == 1 else 'ies'}; a set needs at least "
                            f"{2 * MIN_PER_SPLIT} ({MIN_PER_SPLIT} per split, so each fake has a source of "
                            "another identity without crossing the split)")
    tests = min(max(round(test_fraction * len(names)), MIN_PER_SPLIT), len(names) - MIN_PER_SPLIT)
    return {name: "test" if i < tests else "train" for i, name in enumerate(names)}


def pair_sources(splits: dict[str, str], seed: int) -> dict[str, str]:
    """{target identity: source identity}: the next identity of the same split in hash order, cyclically."""
    pairs = {}
    for split in sorted(set(splits.values())):
        ring = sorted((name for name, s in splits.items() if s == split), key=lambda name: (_rank(name, seed), name))
        pairs.update({name: ring[(i + 1) % len(ring)] for i, name in enumerate(ring)})
    return pairs
