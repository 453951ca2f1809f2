"""Change points of a whole series: windowed E-divisive means with a t-test.

What it does: :func:`change_points` finds where a series' level changed, as the Hunter /
Otava work does it (Fleming et al., "Hunter: Using Change Point Detection to Hunt for
Performance Regressions", ICPE 2023): within windows of ``window`` points, the split that
maximizes the E-divisive statistic (Matteson and James's energy distance, alpha = 1) is a
candidate when a Welch t-test between the two sides finds p < ``max_p``; each side is split
again.  The candidates of all windows are then re-tested against the segments between their
neighbours and the weakest dropped until every one passes.  Deterministic: no permutation
test, so the same series gives the same points every time.

What it deliberately doesn't do: no judging of better or worse (history_check.py).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

WINDOW = 30         # points per window: a step is judged on the runs around it
MAX_P = 0.001       # Welch t-test p-value a change point must beat
MIN_SIZE = 3        # points on each side of a split, at least


def _best_split(values: np.ndarray) -> tuple:
    """(index, statistic) of the split of ``values`` maximizing the E-divisive statistic
    ``q = m n / (m + n) * (2 mean|x - y| - mean|x - x'| - mean|y - y'|)``, or (None, 0)."""
    n = len(values)
    if n < 2 * MIN_SIZE:
        return None, 0.0
    distance = np.abs(values[:, None] - values[None, :])
    # Sums of the distance matrix's blocks from one 2-D cumulative sum: block(a, b, c, d)
    # is the sum over rows a..b-1 and columns c..d-1.
    total = np.zeros((n + 1, n + 1))
    total[1:, 1:] = distance.cumsum(0).cumsum(1)

    def block(a, b, c, d):
        return total[b, d] - total[a, d] - total[b, c] + total[a, c]

    best, best_q = None, 0.0
    for tau in range(MIN_SIZE, n - MIN_SIZE + 1):
        m, k = tau, n - tau
        between = block(0, tau, tau, n) / (m * k)
        left = block(0, tau, 0, tau) / (m * m)
        right = block(tau, n, tau, n) / (k * k)
        q = m * k / (m + k) * (2 * between - left - right)
        if q > best_q:
            best, best_q = tau, q
    return best, best_q


def _p_value(left: np.ndarray, right: np.ndarray) -> float:
    """Welch's two-sided t-test; 1 where it is undefined (constant sides, equal means)."""
    if len(left) < 2 or len(right) < 2:
        return 1.0
    if np.ptp(left) == 0 and np.ptp(right) == 0:
        return 0.0 if left[0] != right[0] else 1.0
    p = stats.ttest_ind(left, right, equal_var=False).pvalue
    return float(p) if np.isfinite(p) else 1.0


def _split(values: np.ndarray, offset: int, found: set) -> None:
    """Binary segmentation of one window: add the significant splits to ``found``."""
    stack = [(0, len(values))]
    while stack:
        start, end = stack.pop()
        tau, _ = _best_split(values[start:end])
        if tau is None:
            continue
        cut = start + tau
        if _p_value(values[start:cut], values[cut:end]) < MAX_P:
            found.add(offset + cut)
            stack += [(start, cut), (cut, end)]


def change_points(series, window: int = WINDOW, max_p: float = MAX_P) -> list:
    """Indices i where ``series[i]`` starts a new level (sorted); a step between points
    i-1 and i.  NaN values are not allowed: give the measured points only."""
    values = np.asarray(series, dtype=float)
    n = len(values)
    if n < 2 * MIN_SIZE:
        return []
    candidates: set = set()
    step = max(window // 2, 1)
    for start in range(0, max(n - window, 0) + step, step):
        chunk = values[start:start + window]
        if len(chunk) >= 2 * MIN_SIZE:
            _split(chunk, start, candidates)
    points = sorted(candidates)
    # Windows overlap: keep one of candidates closer than MIN_SIZE, the first.
    merged = []
    for point in points:
        if not merged or point - merged[-1] >= MIN_SIZE:
            merged.append(point)
    # Re-test each against the segments between its neighbours; drop the weakest until all
    # pass (Hunter's final pass), so a window's edge effect does not survive.
    while merged:
        bounds = [0] + merged + [n]
        p_values = [_p_value(values[bounds[i]:bounds[i + 1]], values[bounds[i + 1]:bounds[i + 2]])
                    for i in range(len(merged))]
        worst = int(np.argmax(p_values))
        if p_values[worst] < max_p:
            break
        del merged[worst]
    return merged
