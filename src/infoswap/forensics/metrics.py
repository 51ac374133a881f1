"""The four numbers of App. Tables 2 and 3: AUC, AP, F1 at threshold 0.5 and the MSE of the fake probability.

Fake is the positive class (label 1). AUC and AP come from the scores as they are (scikit-learn's
`roc_auc_score` and `average_precision_score`); F1 counts a face as called fake when its probability is
above 0.5 (logit > 0: a probability of exactly 0.5 is undecided, so not a call); MSE is the mean of
(p − label)², the Brier score. A constant detector gets AUC 0.5 and, on a balanced set, MSE 0.25 at p = 0.5.
"""

from __future__ import annotations

import numpy as np

from infoswap.errors import InfoswapError

THRESHOLD = 0.5
METRICS = ("auc", "ap", "f1", "mse")


def detection_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """{"auc", "ap", "f1", "mse"} for labels (N,) in {0 real, 1 fake} and fake probabilities (N,) in [0, 1]."""
    from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

    y = np.asarray(labels).astype(np.int64).reshape(-1)
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if y.shape != p.shape:
        raise ValueError(f"{y.size} labels but {p.size} probabilities")
    if not set(np.unique(y)) <= {0, 1}:
        raise ValueError("labels must be 0 (real) or 1 (fake)")
    if not ((p >= 0) & (p <= 1)).all():
        raise ValueError("probabilities must lie in [0, 1]")
    classes = np.bincount(y, minlength=2)
    if classes.min() == 0:
        only = "real" if classes[1] == 0 else "fake"
        raise InfoswapError(f"all {y.size} faces are {only}: AUC and AP need both real and fake faces")
    return {
        "auc": float(roc_auc_score(y, p)),
        "ap": float(average_precision_score(y, p)),
        "f1": float(f1_score(y, (p > THRESHOLD).astype(np.int64), zero_division=0)),
        "mse": float(np.mean((p - y) ** 2)),
    }
