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
false-discovery rate, :func:`fdr_q`), gives q <= ``ALPHA``. Monthly trends are in :mod:`cx_core.insight.trends`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from cx_core.customers.profiles import STAGE as PROFILES_STAGE
from cx_core.customers.text_profile import COMPLAINT_BELOW, PRAISE_ABOVE, SCORES_STAGE
from cx_core.insight.overview import PERIOD_DAYS, source_periods
from cx_core.insight.stats import ALPHA, fdr_q, two_proportion_p
from cx_core.store.db import Workspace
from cx_core.store.runs import latest_id

DRIVER_COLUMNS = (
    "aspect",
    "mentions",
    "negative_mentions",
    "negative_share",
    "coef_negative",
    "coef_positive",
    "rating_gain",
    "churn_coef_negative",
    "churn_gain",
    "negative_share_recent",
    "negative_share_previous",
    "trend_p",
    "trend_q",
    "trend",
)


def load_aspect_reviews(ws: Workspace, scores_run_id: str, profiles_run_id: str | None) -> pd.DataFrame:
    """One row per scored review: ts, rating, aspects, aspect scores and the customer's churn_prob."""
    return ws.query_df(
        "SELECT r.review_id, r.customer_id, r.ts, r.rating, s.sentiment_score, s.aspects, s.aspect_sentiment_json, "
        "p.churn_prob FROM review_scores s JOIN reviews r USING (dataset_id, review_id) "
        "LEFT JOIN (SELECT customer_id, any_value(churn_prob) AS churn_prob FROM customer_profiles "
        "WHERE run_id = ? GROUP BY customer_id) p ON p.customer_id = r.customer_id "
        "WHERE s.run_id = ?",
        [profiles_run_id or "", scores_run_id],
    )


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
    ment = pd.DataFrame(
        [{a: (a in s or a in lst) for a in names} for s, lst in zip(scores, listed)],
        columns=names,
        dtype=bool,
        index=frame.index,
    )
    neg = pd.DataFrame(
        [{a: s.get(a, 0.0) < COMPLAINT_BELOW for a in names} for s in scores],
        columns=names,
        dtype=bool,
        index=frame.index,
    )
    pos = pd.DataFrame(
        [{a: s.get(a, 0.0) > PRAISE_ABOVE for a in names} for s in scores],
        columns=names,
        dtype=bool,
        index=frame.index,
    )
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


def _effects(y: pd.Series, neg: pd.DataFrame, pos: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Negative and positive coefficients of ``y`` (rows with NaN ``y`` left out)."""
    ok = y.notna().to_numpy()
    x = np.hstack([neg.to_numpy(float), pos.to_numpy(float)])[ok]
    coef = ols_coefficients(y.to_numpy(float)[ok], x) if ok.sum() > 1 else np.zeros(x.shape[1])
    k = neg.shape[1]
    return coef[:k], coef[k:]


def _trend(
    frame: pd.DataFrame, ment: pd.DataFrame, neg: pd.DataFrame, anchor: datetime | None, days: int
) -> pd.DataFrame:
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
    out = pd.DataFrame(
        rows, columns=["negative_share_recent", "negative_share_previous", "trend_p"], index=ment.columns
    )
    out["trend_q"] = fdr_q(out["trend_p"].to_numpy(float))
    up = out["negative_share_recent"] > out["negative_share_previous"]
    out["trend"] = np.where(out["trend_q"] <= ALPHA, np.where(up, "worse", "better"), "stable")
    return out


def drivers_from_frame(
    frame: pd.DataFrame, anchor: datetime | None = None, days: int = PERIOD_DAYS
) -> pd.DataFrame:
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
    out = pd.DataFrame(
        {
            "aspect": ment.columns,
            "mentions": ment.sum().to_numpy(),
            "negative_mentions": neg.sum().to_numpy(),
            "coef_negative": cn,
            "coef_positive": cp,
            "rating_gain": share * -cn,
        },
        index=ment.columns,
    )
    out["negative_share"] = out["negative_mentions"] / out["mentions"].where(out["mentions"] > 0)
    if churn.notna().sum() > 1:
        kn, _ = _effects(churn, neg, pos)
        out["churn_coef_negative"] = kn
        out["churn_gain"] = neg[churn.notna()].mean().to_numpy() * kn
    else:
        out["churn_coef_negative"] = np.nan
        out["churn_gain"] = np.nan
    out = out.join(_trend(frame, ment, neg, anchor, days))
    return out.sort_values(["rating_gain", "mentions"], ascending=False).reset_index(drop=True)[
        list(DRIVER_COLUMNS)
    ]


def aspect_drivers(ws: Workspace, days: int = PERIOD_DAYS) -> pd.DataFrame:
    """Per aspect: impact on rating and churn risk, volume and trend, ranked "what to fix first".

    Empty when no review-scoring run exists yet.  The trend windows end at the newest review
    (not the newest order): orders running on past the reviews must not empty the recent window.
    """
    run = latest_id(ws, SCORES_STAGE)
    if run is None:
        return pd.DataFrame(columns=list(DRIVER_COLUMNS))
    frame = load_aspect_reviews(ws, run, latest_id(ws, PROFILES_STAGE))
    return drivers_from_frame(frame, source_periods(ws, days)["reviews"].anchor, days)
