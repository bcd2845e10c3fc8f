"""Percentile-bootstrap intervals and paired tests over shared resample indices.

The resample indices depend only on the number of examples and the seed, so
every model scored on one benchmark is resampled alike: two records can be
compared pairwise, resample by resample (Koehn, 2004).

Example:

>>> import numpy as np
>>> correct = np.array([1, 0, 1, 1, 1, 0, 1, 1] * 25, float)
>>> low, high = interval(correct.mean(), resample_means(correct, indices(len(correct), 200, 0)))
>>> bool(low < correct.mean() < high)
True
"""

from __future__ import annotations

import weakref

import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20261122
CONFIDENCE = 0.95


def indices(n: int, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> np.ndarray:
    """`[resamples, n]` int32 indices drawn with replacement; a function of (n, resamples, seed)."""
    if n <= 0:
        raise ValueError("Cannot bootstrap zero examples.")
    rng = np.random.Generator(np.random.PCG64([seed, n]))
    return rng.integers(0, n, size=(resamples, n), dtype=np.int32)


_last_counts = (lambda: None, None)  # (weak reference to an idx array, its counts)


def counts(idx: np.ndarray) -> np.ndarray:
    """How often each example is drawn in each resample: `[resamples, n]` float64.

    Kept for the last `idx` seen, since every metric of a benchmark uses the same indices."""
    global _last_counts
    ref, found = _last_counts
    if ref() is idx:
        return found
    resamples, n = idx.shape
    flat = (idx + np.arange(resamples, dtype=np.int64)[:, None] * n).ravel()
    found = np.bincount(flat, minlength=resamples * n).reshape(resamples, n).astype(np.float64)
    _last_counts = (weakref.ref(idx), found)
    return found


def resample_means(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Mean of `values` on each resample: `[resamples]`."""
    return resample_sums(np.asarray(values, np.float64)[:, None], idx)[:, 0] / idx.shape[1]


def resample_sums(stats: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Column sums of per-example statistics `[n, k]` on each resample: `[resamples, k]`,
    as one matrix product of the draw counts with the statistics (no `[R, n, k]` gather)."""
    return counts(idx) @ np.asarray(stats, np.float64)


def interval(point: float, samples: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The percentile interval of bootstrap `samples` (the point estimate is not used)."""
    del point
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(np.asarray(samples, np.float64), [tail, 100.0 - tail])
    return float(low), float(high)


def paired_test(samples_a: np.ndarray, samples_b: np.ndarray, point_a: float, point_b: float,
                higher_is_better: bool = True) -> dict:
    """Paired bootstrap test of `a - b` from two systems' scores on the same resamples.

    Returns the observed difference, its 95% interval and a two-sided p-value:
    twice the share of resamples on which the difference's sign flips.
    """
    diff = np.asarray(samples_a, np.float64) - np.asarray(samples_b, np.float64)
    delta = float(point_a - point_b)
    if delta == 0:
        p_value = 1.0
    else:
        flipped = np.mean(diff <= 0) if delta > 0 else np.mean(diff >= 0)
        p_value = float(min(1.0, 2.0 * flipped))
    low, high = interval(delta, diff)
    better = "a" if (delta > 0) == higher_is_better else "b"
    return {
        "delta": delta,
        "low": low,
        "high": high,
        "p_value": p_value,
        "significant": bool(p_value < 1.0 - CONFIDENCE),
        "better": better if delta != 0 else None,
        "resamples": int(diff.shape[0]),
    }


def decimals(low: float, high: float, significant: int = 3) -> int:
    """Decimal places an interval supports: enough for `significant` digits of its width
    (0.0333 wide: 4 places; 3.23 wide: 2), between 0 and 6; 4 for an empty or non-finite one.

    >>> decimals(0.9528, 0.9861), decimals(34.46, 37.69), decimals(0.5, 0.5)
    (4, 2, 4)
    """
    width = abs(float(high) - float(low))
    if not np.isfinite(width) or width == 0:
        return 4
    return int(min(6, max(0, significant - 1 - np.floor(np.log10(width)))))


def format_interval(value: float, low: float, high: float, sign: bool = False) -> str:
    """`value [low, high]` rounded to what the interval supports (`decimals`); `sign` puts
    + before positive numbers (differences).

    >>> format_interval(0.9694444444444444, 0.9527777777777777, 0.9861111111111112)
    '0.9694 [0.9528, 0.9861]'
    """
    places = decimals(low, high)
    form = f"{'+' if sign else ''}.{places}f"
    return f"{value:{form}} [{low:{form}}, {high:{form}}]"
