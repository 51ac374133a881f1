"""App. Table 3's experiment: a detector scored on held-out identities, further trained on a set's training
identities, then scored again on the same held-out faces."""

from __future__ import annotations

from pathlib import Path

from infoswap.forensics.manifest import LabelledSet
from infoswap.forensics.scoring import score
from infoswap.forensics.snapshot import LoadedDetector
from infoswap.forensics.training import TrainResult, train_detector


def further_train(original: LoadedDetector, data: LabelledSet, out: Path, *, train_split: str = "train",
                  test_split: str = "test", **training) -> tuple[dict, dict, TrainResult]:
    """(scores before, scores after, the training run); `training` goes to `train_detector`."""
    data.usable(test_split)  # refuse an unscorable set before spending the training time
    before = score(original, data, test_split)
    result = train_detector(data, train_split, out, init=original, **training)
    return before, score(result.detector, data, test_split), result
