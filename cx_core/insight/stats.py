"""Significance tests shared by drivers, trends and alerts, and false-discovery-rate control.

``ALPHA`` is the one significance level of the app: a change is flagged when its
Benjamini-Hochberg q-value over its family of tests is at most ``ALPHA``.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

ALPHA = 0.05


def two_proportion_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test (1.0 when it cannot be computed)."""
    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (k1 / n1 - k2 / n2) / se
    return math.erfc(abs(z) / math.sqrt(2))


def benjamini_hochberg(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values) of one family of tests, in input order.

    ``q_i = min_{j: p_j >= p_i} p_j * m / rank_j`` capped at 1; NaN p-values are left out of the
    family and stay NaN. Flagging ``q <= alpha`` controls the false-discovery rate at ``alpha``.
    """
    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return q
    vals = np.clip(p[ok], 0.0, 1.0)
    order = np.argsort(vals)
    scaled = vals[order] * m / np.arange(1, m + 1)
    adj = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    out = np.empty(m)
    out[order] = adj
    q[ok] = out
    return q


def fdr_q(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """BH q-values: ``scipy.stats.false_discovery_control`` when available (scipy >= 1.11), NaN kept."""
    p = np.asarray(p, dtype=float)
    try:
        from scipy.stats import false_discovery_control
    except ImportError:  # older scipy: the same formula in numpy
        return benjamini_hochberg(p)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        q[ok] = false_discovery_control(np.clip(p[ok], 0.0, 1.0), method="bh")
    return q


def welch_p(m1: float, s1: float, n1: int, m2: float, s2: float, n2: int) -> float:
    """Two-sided Welch t-test p of two means from their summaries (1.0 when it cannot be computed)."""
    from scipy.stats import ttest_ind_from_stats

    if min(n1, n2) < 2 or any(pd.isna(v) for v in (m1, s1, m2, s2)) or (s1 == 0 and s2 == 0):
        return 1.0
    p = ttest_ind_from_stats(m1, s1, n1, m2, s2, n2, equal_var=False).pvalue
    return 1.0 if pd.isna(p) else float(p)
