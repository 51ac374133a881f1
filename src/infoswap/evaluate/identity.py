"""Identity metrics of swaps from independent-recogniser descriptors (SPEC section 8, paper main text).

- ID retrieval top-1: each swap's nearest source among all distinct source images (cosine); a hit when
  it is the swap's own source. Sources are told apart by image, so two photos of one person used as
  sources count as two entries (the paper's FaceForensics++ protocol has one source video per identity).
- Identity discriminability [ours, concrete form of "statistics of identity embeddings of swaps"]: the
  ROC AUC of swap-swap cosine similarity for telling pairs of swaps made from the same source from pairs
  made from different sources. 1.0: swaps cluster by source identity; 0.5: their identity carries no
  trace of the source. Needs at least one source used twice and two distinct sources, otherwise None.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.metrics.pairwise import cosine_similarity


def nearest_sources(swaps: np.ndarray, gallery: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """swaps (N, D), gallery (S, D) -> index of the nearest gallery entry (N,) and all cosines (N, S)."""
    similarity = cosine_similarity(swaps, gallery)
    return similarity.argmax(axis=1), similarity


def identity_discriminability(swaps: np.ndarray, source_ids: np.ndarray) -> float | None:
    """ROC AUC of same-source vs different-source swap pairs by cosine; None when either kind is missing."""
    source_ids = np.asarray(source_ids)
    first, second = np.triu_indices(len(swaps), k=1)
    same = source_ids[first] == source_ids[second]
    if same.all() or not same.any():
        return None
    similarity = cosine_similarity(swaps)[first, second]
    return float(roc_auc_score(same, similarity))
