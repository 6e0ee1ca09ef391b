"""Aspect driver analysis: which review aspects move the rating and churn risk most.

For every aspect found in the newest scoring run (``review_scores.aspects`` and the keys of
``aspect_sentiment_json``) each review gets two indicators: a negative mention (aspect score
below ``COMPLAINT_BELOW``) and a positive one (above ``PRAISE_ABOVE``). The rating is regressed
on all indicators at once (least squares with an intercept). The counterfactual
``rating_gain = share_negative * -coef_negative`` is how much the mean rating would rise if
that aspect's negative mentions were neutral instead; ``churn_gain`` is the same for the
reviewing customer's churn probability (newest ``profiles`` run), when there is one. Trend:
negative share of the aspect's mentions in the last ``days`` days vs the ``days`` before,
flagged only when a two-proportion z-test, corrected for testing every aspect (Benjamini-Hochberg
false-discovery rate, :func:`fdr_q`), gives q <= ``ALPHA``. Monthly trends flag a month whose
negative share of mentions, mean sentiment or churn risk moved against the month before with
q <= ``ALPHA`` over all series x months shown.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Sequence

import numpy as np
import pandas as pd

from .db import Workspace
from .overview import PERIOD_DAYS, periods
from .profiles import STAGE as PROFILES_STAGE
from .segments_data import latest_run_id
from .text_profile import COMPLAINT_BELOW, PRAISE_ABOVE, SCORES_STAGE

ALPHA = 0.05
DRIVER_COLUMNS = ("aspect", "mentions", "negative_mentions", "negative_share", "coef_negative",
                  "coef_positive", "rating_gain", "churn_coef_negative", "churn_gain",
                  "negative_share_recent", "negative_share_previous", "trend_p", "trend_q", "trend")


def load_aspect_reviews(ws: Workspace, scores_run_id: str, profiles_run_id: str | None) -> pd.DataFrame:
    """One row per scored review: ts, rating, aspects, aspect scores and the customer's churn_prob."""
    return ws.query_df(
        "SELECT r.review_id, r.customer_id, r.ts, r.rating, s.sentiment_score, s.aspects, s.aspect_sentiment_json, "
        "p.churn_prob FROM review_scores s JOIN reviews r USING (dataset_id, review_id) "
        "LEFT JOIN (SELECT customer_id, any_value(churn_prob) AS churn_prob FROM customer_profiles "
        "WHERE run_id = ? GROUP BY customer_id) p ON p.customer_id = r.customer_id "
        "WHERE s.run_id = ?", [profiles_run_id or "", scores_run_id])


def _scores(raw: object) -> dict[str, float]:
    """``{aspect: score}`` of one ``aspect_sentiment_json`` value ({} when missing or malformed)."""
    if not isinstance(raw, str) or not raw:
        return {}
    try:
        d = json.loads(raw)
    except ValueError:
        return {}
    return {str(k): float(v) for k, v in d.items() if v is not None} if isinstance(d, dict) else {}


def mention_indicators(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Boolean (mentioned, negative, positive) frames, one column per aspect, one row per review."""
    scores = [_scores(v) for v in frame["aspect_sentiment_json"]]
    listed = [list(a) if isinstance(a, (list, tuple, np.ndarray)) else [] for a in frame["aspects"]]
    names = sorted({a for s in scores for a in s} | {a for lst in listed for a in lst})
    ment = pd.DataFrame([{a: (a in s or a in lst) for a in names} for s, lst in zip(scores, listed)],
                        columns=names, dtype=bool, index=frame.index)
    neg = pd.DataFrame([{a: s.get(a, 0.0) < COMPLAINT_BELOW for a in names} for s in scores],
                       columns=names, dtype=bool, index=frame.index)
    pos = pd.DataFrame([{a: s.get(a, 0.0) > PRAISE_ABOVE for a in names} for s in scores],
                       columns=names, dtype=bool, index=frame.index)
    return ment, neg, pos


def ols_coefficients(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Least-squares slopes of ``y`` on the columns of ``x`` with an intercept (0 for constant columns)."""
    coef = np.zeros(x.shape[1])
    keep = x.std(axis=0) > 0
    if keep.any() and len(y) > 1:
        design = np.column_stack([np.ones(len(y)), x[:, keep]])
        sol, *_ = np.linalg.lstsq(design, y, rcond=None)
        coef[keep] = sol[1:]
    return coef


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


def _effects(y: pd.Series, neg: pd.DataFrame, pos: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Negative and positive coefficients of ``y`` (rows with NaN ``y`` left out)."""
    ok = y.notna().to_numpy()
    x = np.hstack([neg.to_numpy(float), pos.to_numpy(float)])[ok]
    coef = ols_coefficients(y.to_numpy(float)[ok], x) if ok.sum() > 1 else np.zeros(x.shape[1])
    k = neg.shape[1]
    return coef[:k], coef[k:]


def _trend(frame: pd.DataFrame, ment: pd.DataFrame, neg: pd.DataFrame, anchor: datetime | None,
           days: int) -> pd.DataFrame:
    """Negative share of mentions in the current vs previous window, the z-test p, its BH q over
    all aspects and a label ("worse"/"better" only when q <= ``ALPHA``)."""
    ts = pd.to_datetime(frame["ts"])
    rows = []
    for a in ment.columns:
        if anchor is None:
            rows.append((np.nan, np.nan, 1.0))
            continue
        cur = (ts > anchor - timedelta(days=days)) & (ts <= anchor)
        prev = (ts > anchor - timedelta(days=2 * days)) & (ts <= anchor - timedelta(days=days))
        n1, n2 = int((ment[a] & cur).sum()), int((ment[a] & prev).sum())
        k1, k2 = int((neg[a] & cur).sum()), int((neg[a] & prev).sum())
        rows.append((k1 / n1 if n1 else np.nan, k2 / n2 if n2 else np.nan, two_proportion_p(k1, n1, k2, n2)))
    out = pd.DataFrame(rows, columns=["negative_share_recent", "negative_share_previous", "trend_p"],
                       index=ment.columns)
    out["trend_q"] = fdr_q(out["trend_p"].to_numpy(float))
    up = out["negative_share_recent"] > out["negative_share_previous"]
    out["trend"] = np.where(out["trend_q"] <= ALPHA, np.where(up, "worse", "better"), "stable")
    return out


def drivers_from_frame(frame: pd.DataFrame, anchor: datetime | None = None,
                       days: int = PERIOD_DAYS) -> pd.DataFrame:
    """Driver table (``DRIVER_COLUMNS``) of per-review rows, most rating to gain first.

    ``frame`` needs ``ts``, ``rating``, ``aspects``, ``aspect_sentiment_json`` and ``churn_prob``.
    """
    if frame.empty:
        return pd.DataFrame(columns=list(DRIVER_COLUMNS))
    ment, neg, pos = mention_indicators(frame)
    if not len(ment.columns):
        return pd.DataFrame(columns=list(DRIVER_COLUMNS))
    rating = pd.to_numeric(frame["rating"], errors="coerce")
    churn = pd.to_numeric(frame["churn_prob"], errors="coerce")
    cn, cp = _effects(rating, neg, pos)
    share = neg[rating.notna()].mean().to_numpy() if rating.notna().any() else np.zeros(len(cn))
    out = pd.DataFrame({"aspect": ment.columns, "mentions": ment.sum().to_numpy(),
                        "negative_mentions": neg.sum().to_numpy(), "coef_negative": cn,
                        "coef_positive": cp, "rating_gain": share * -cn}, index=ment.columns)
    out["negative_share"] = out["negative_mentions"] / out["mentions"].where(out["mentions"] > 0)
    if churn.notna().sum() > 1:
        kn, _ = _effects(churn, neg, pos)
        out["churn_coef_negative"] = kn
        out["churn_gain"] = neg[churn.notna()].mean().to_numpy() * kn
    else:
        out["churn_coef_negative"] = np.nan
        out["churn_gain"] = np.nan
    out = out.join(_trend(frame, ment, neg, anchor, days))
    return (out.sort_values(["rating_gain", "mentions"], ascending=False)
            .reset_index(drop=True)[list(DRIVER_COLUMNS)])


def aspect_drivers(ws: Workspace, days: int = PERIOD_DAYS) -> pd.DataFrame:
    """Per aspect: impact on rating and churn risk, volume and trend, ranked "what to fix first".

    Empty when no review-scoring run exists yet.
    """
    run = latest_run_id(ws, SCORES_STAGE)
    if run is None:
        return pd.DataFrame(columns=list(DRIVER_COLUMNS))
    frame = load_aspect_reviews(ws, run, latest_run_id(ws, PROFILES_STAGE))
    return drivers_from_frame(frame, periods(ws, days).anchor, days)


TREND_SERIES = {"negative_share": "negative share of aspect mentions", "sentiment": "mean sentiment",
                 "churn": "churn risk of reviewers"}
#: fewest observations both months of a month-over-month test need
MIN_MONTH_COUNT = 10


def welch_p(m1: float, s1: float, n1: int, m2: float, s2: float, n2: int) -> float:
    """Two-sided Welch t-test p of two means from their summaries (1.0 when it cannot be computed)."""
    from scipy.stats import ttest_ind_from_stats

    if min(n1, n2) < 2 or any(pd.isna(v) for v in (m1, s1, m2, s2)) or (s1 == 0 and s2 == 0):
        return 1.0
    p = ttest_ind_from_stats(m1, s1, n1, m2, s2, n2, equal_var=False).pvalue
    return 1.0 if pd.isna(p) else float(p)


def _month_tests(g: pd.DataFrame) -> pd.DataFrame:
    """Per month vs the month before: p of the negative-share, sentiment and churn changes."""
    rows = [(np.nan, np.nan, np.nan)]
    for prev, cur in zip(g.iloc[:-1].itertuples(), g.iloc[1:].itertuples()):
        ok_n = min(cur.mentions, prev.mentions) >= MIN_MONTH_COUNT
        ok_s = min(cur.sent_n, prev.sent_n) >= MIN_MONTH_COUNT
        ok_c = min(cur.churn_n, prev.churn_n) >= MIN_MONTH_COUNT
        rows.append((
            two_proportion_p(int(cur.negative_mentions), int(cur.mentions), int(prev.negative_mentions),
                             int(prev.mentions)) if ok_n else np.nan,
            welch_p(cur.mean_sentiment, cur.sent_sd, cur.sent_n, prev.mean_sentiment, prev.sent_sd,
                    prev.sent_n) if ok_s else np.nan,
            welch_p(cur.churn_risk, cur.churn_sd, cur.churn_n, prev.churn_risk, prev.churn_sd,
                    prev.churn_n) if ok_c else np.nan))
    return pd.DataFrame(rows[:len(g)], columns=[f"{k}_p" for k in TREND_SERIES], index=g.index)


def _flags(out: pd.DataFrame) -> list[str]:
    """Per month: the series that moved with q <= ALPHA, e.g. ``"sentiment down (p = 0.001, q = 0.01)"``."""
    prev = out.shift(1)
    values = {"negative_share": "negative_share", "sentiment": "mean_sentiment", "churn": "churn_risk"}
    flags = []
    for i in range(len(out)):
        parts = []
        for k in TREND_SERIES:
            q = out[f"{k}_q"].iloc[i]
            if pd.notna(q) and q <= ALPHA:
                up = out[values[k]].iloc[i] > prev[values[k]].iloc[i]
                parts.append(f"{TREND_SERIES[k]} {'up' if up else 'down'} "
                             f"(p = {out[f'{k}_p'].iloc[i]:.2g}, q = {q:.2g})")
        flags.append("; ".join(parts))
    return flags


def trends_from_frame(frame: pd.DataFrame, fdr: bool = True) -> pd.DataFrame:
    """Per month: reviews, mean sentiment, aspect mentions, negative mentions and their share, the
    mean churn probability of the customers who reviewed (NaN without profiles), and tests against
    the month before: ``<series>_p`` (two-proportion z-test for the negative share, Welch t-test for
    sentiment and churn risk; NaN when either month has fewer than ``MIN_MONTH_COUNT``
    observations), ``<series>_q`` (Benjamini-Hochberg over every series x month, or = p when
    ``fdr`` is False) and ``flags`` (text of the changes with q <= ``ALPHA``, "" when none)."""
    cols = ["month", "reviews", "mean_sentiment", "mentions", "negative_mentions", "negative_share",
            "churn_risk", *[f"{k}_{t}" for t in "pq" for k in TREND_SERIES], "flags"]
    dated = frame[pd.to_datetime(frame["ts"]).notna()]
    if dated.empty:
        return pd.DataFrame(columns=cols)
    ment, neg, _ = mention_indicators(dated)
    g = pd.DataFrame({"month": pd.to_datetime(dated["ts"]).dt.to_period("M").dt.to_timestamp(),
                      "sentiment": pd.to_numeric(dated["sentiment_score"], errors="coerce"),
                      "mentions": ment.sum(axis=1).to_numpy(), "neg": neg.sum(axis=1).to_numpy(),
                      "churn": pd.to_numeric(dated["churn_prob"], errors="coerce")})
    out = g.groupby("month").agg(
        reviews=("sentiment", "size"), mean_sentiment=("sentiment", "mean"), sent_sd=("sentiment", "std"),
        sent_n=("sentiment", "count"), mentions=("mentions", "sum"), negative_mentions=("neg", "sum"),
        churn_risk=("churn", "mean"), churn_sd=("churn", "std"), churn_n=("churn", "count")).reset_index()
    out["negative_share"] = out["negative_mentions"] / out["mentions"].where(out["mentions"] > 0)
    out = out.join(_month_tests(out))
    pcols = [f"{k}_p" for k in TREND_SERIES]
    flat = out[pcols].to_numpy(float).ravel()
    q = (fdr_q(flat) if fdr else flat).reshape(len(out), len(pcols))
    for j, k in enumerate(TREND_SERIES):
        out[f"{k}_q"] = q[:, j]
    out["flags"] = _flags(out)
    return out[cols]


def monthly_trends(ws: Workspace, fdr: bool = True) -> pd.DataFrame:
    """Monthly sentiment, aspect mentions and churn risk of the newest scoring run with
    month-over-month significance flags (:func:`trends_from_frame`; empty without a run)."""
    run = latest_run_id(ws, SCORES_STAGE)
    if run is None:
        return trends_from_frame(pd.DataFrame(columns=["ts"]))
    return trends_from_frame(load_aspect_reviews(ws, run, latest_run_id(ws, PROFILES_STAGE)), fdr)
