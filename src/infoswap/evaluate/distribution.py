"""How far apart two sets of image features lie: FID and KID (issue 9), computed in float64.

- FID (Heusel et al. 2017): the Fréchet distance between Gaussians fitted to the two sets,
  |mu_a - mu_b|² + tr(S_a + S_b - 2 (S_a S_b)^½). Biased upward for small sets: it needs thousands of images.
- KID (Bińkowski et al. 2018): the unbiased estimate of the squared maximum mean discrepancy under the kernel
  k(x, y) = (x·y / d + 1)³, averaged over random subsets. Unbiased, so two samples of one distribution score
  about 0 at any size (and can score slightly below 0); the spread over subsets comes with it.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.linalg import LinAlgWarning, sqrtm
from sklearn.metrics.pairwise import polynomial_kernel


def frechet_distance(mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray, cov_b: np.ndarray,
                     eps: float = 1e-6) -> float:
    """Fréchet distance of N(mean_a, cov_a) and N(mean_b, cov_b) (means (D,), covariances (D, D)).

    The matrix root is scipy's sqrtm of cov_a @ cov_b; rounding can leave it a tiny imaginary part, which is
    dropped. When the root is not finite (a singular product), eps·I is added to both covariances and the root
    taken again, as FID implementations do; that moves the result by about 2·eps·D at most. sqrtm's warnings
    about conditioning are silenced: a finite root is used as it is, again as FID implementations do.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LinAlgWarning)
        root = sqrtm(cov_a @ cov_b)
        if not np.isfinite(root).all():
            offset = eps * np.eye(len(cov_a))
            root = sqrtm((cov_a + offset) @ (cov_b + offset))
    diff = mean_a - mean_b
    return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root).real)


def fid(a: np.ndarray, b: np.ndarray) -> float:
    """FID between feature sets a (N, D) and b (M, D), each with at least 2 rows.

    When either set has no more rows than dimensions, its covariance has rank ≤ N - 1 < D and the product of
    the covariances is singular. The root's trace is then taken exactly instead: with A, B the centred
    features, the non-zero eigenvalues of S_a S_b are the squared singular values of A Bᵀ / √((N-1)(M-1)),
    so tr (S_a S_b)^½ is that matrix's nuclear norm (an N×M problem instead of a D×D sqrtm, and no eps).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    if min(len(a), len(b)) > a.shape[1]:
        return frechet_distance(mean_a, np.cov(a, rowvar=False), mean_b, np.cov(b, rowvar=False))
    centred_a, centred_b = a - mean_a, b - mean_b
    cross = centred_a @ centred_b.T / np.sqrt((len(a) - 1) * (len(b) - 1))
    diff = mean_a - mean_b
    traces = (np.sum(centred_a**2) / (len(a) - 1) + np.sum(centred_b**2) / (len(b) - 1))
    return float(diff @ diff + traces - 2 * np.linalg.norm(cross, ord="nuc"))


def kid(a: np.ndarray, b: np.ndarray, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float]:
    """KID between feature sets a (N, D) and b (M, D): (mean, standard deviation) over `subsets` random
    subsets of min(subset_size, N, M) rows from each set, drawn without replacement with `seed`."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    size = min(subset_size, len(a), len(b))
    if size < 2:
        raise ValueError(f"KID needs at least 2 rows in each set, got {len(a)} and {len(b)}")
    kernel = {"degree": 3, "gamma": 1 / a.shape[1], "coef0": 1}
    rng = np.random.default_rng(seed)
    estimates = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), size, replace=False)]
        y = b[rng.choice(len(b), size, replace=False)]
        k_xx, k_yy = polynomial_kernel(x, **kernel), polynomial_kernel(y, **kernel)
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (size * (size - 1))
        estimates.append(within - 2 * polynomial_kernel(x, y, **kernel).mean())
    return float(np.mean(estimates)), float(np.std(estimates))
