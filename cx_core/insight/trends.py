"""Monthly trends: sentiment, aspect mentions and churn risk per month, with month-over-month tests.

A month is flagged when its negative share of aspect mentions (two-proportion z-test), mean
sentiment or mean churn risk of the reviewers (Welch t-test) moved against the month before with
a Benjamini-Hochberg q <= ``ALPHA`` over every series x month shown (not every wiggle).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cx_core.customers.profiles import STAGE as PROFILES_STAGE
from cx_core.customers.text_profile import SCORES_STAGE
from cx_core.ingest.datasets import monthly_activity
from cx_core.insight.drivers import load_aspect_reviews, mention_indicators
from cx_core.insight.stats import ALPHA, fdr_q, two_proportion_p, welch_p
from cx_core.store.db import Workspace
from cx_core.store.runs import latest_id

TREND_SERIES = {
    "negative_share": "negative share of aspect mentions",
    "sentiment": "mean sentiment",
    "churn": "churn risk of reviewers",
}
#: fewest observations both months of a month-over-month test need
MIN_MONTH_COUNT = 10


def _month_tests(g: pd.DataFrame) -> pd.DataFrame:
    """Per month vs the month before: p of the negative-share, sentiment and churn changes."""
    rows = [(np.nan, np.nan, np.nan)]
    for prev, cur in zip(g.iloc[:-1].itertuples(), g.iloc[1:].itertuples()):
        ok_n = min(cur.mentions, prev.mentions) >= MIN_MONTH_COUNT
        ok_s = min(cur.sent_n, prev.sent_n) >= MIN_MONTH_COUNT
        ok_c = min(cur.churn_n, prev.churn_n) >= MIN_MONTH_COUNT
        rows.append(
            (
                two_proportion_p(
                    int(cur.negative_mentions),
                    int(cur.mentions),
                    int(prev.negative_mentions),
                    int(prev.mentions),
                )
                if ok_n
                else np.nan,
                welch_p(
                    cur.mean_sentiment,
                    cur.sent_sd,
                    cur.sent_n,
                    prev.mean_sentiment,
                    prev.sent_sd,
                    prev.sent_n,
                )
                if ok_s
                else np.nan,
                welch_p(
                    cur.churn_risk, cur.churn_sd, cur.churn_n, prev.churn_risk, prev.churn_sd, prev.churn_n
                )
                if ok_c
                else np.nan,
            )
        )
    return pd.DataFrame(rows[: len(g)], columns=[f"{k}_p" for k in TREND_SERIES], index=g.index)


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
                parts.append(
                    f"{TREND_SERIES[k]} {'up' if up else 'down'} "
                    f"(p = {out[f'{k}_p'].iloc[i]:.2g}, q = {q:.2g})"
                )
        flags.append("; ".join(parts))
    return flags


def trends_from_frame(frame: pd.DataFrame, fdr: bool = True) -> pd.DataFrame:
    """Per month: reviews, mean sentiment, aspect mentions, negative mentions and their share, the
    mean churn probability of the customers who reviewed (NaN without profiles), and tests against
    the month before: ``<series>_p`` (two-proportion z-test for the negative share, Welch t-test for
    sentiment and churn risk; NaN when either month has fewer than ``MIN_MONTH_COUNT``
    observations), ``<series>_q`` (Benjamini-Hochberg over every series x month, or = p when
    ``fdr`` is False), ``flags`` (text of the changes with q <= ``ALPHA``, "" when none) and
    ``partial`` (the first or last month the data covers only in part: its counts are not a drop)."""
    cols = [
        "month",
        "reviews",
        "mean_sentiment",
        "mentions",
        "negative_mentions",
        "negative_share",
        "churn_risk",
        *[f"{k}_{t}" for t in "pq" for k in TREND_SERIES],
        "flags",
        "partial",
    ]
    dated = frame[pd.to_datetime(frame["ts"]).notna()]
    if dated.empty:
        return pd.DataFrame(columns=cols)
    ment, neg, _ = mention_indicators(dated)
    g = pd.DataFrame(
        {
            "month": pd.to_datetime(dated["ts"]).dt.to_period("M").dt.to_timestamp(),
            "sentiment": pd.to_numeric(dated["sentiment_score"], errors="coerce"),
            "mentions": ment.sum(axis=1).to_numpy(),
            "neg": neg.sum(axis=1).to_numpy(),
            "churn": pd.to_numeric(dated["churn_prob"], errors="coerce"),
        }
    )
    out = (
        g.groupby("month")
        .agg(
            reviews=("sentiment", "size"),
            mean_sentiment=("sentiment", "mean"),
            sent_sd=("sentiment", "std"),
            sent_n=("sentiment", "count"),
            mentions=("mentions", "sum"),
            negative_mentions=("neg", "sum"),
            churn_risk=("churn", "mean"),
            churn_sd=("churn", "std"),
            churn_n=("churn", "count"),
        )
        .reset_index()
    )
    out["negative_share"] = out["negative_mentions"] / out["mentions"].where(out["mentions"] > 0)
    out = out.join(_month_tests(out))
    pcols = [f"{k}_p" for k in TREND_SERIES]
    flat = out[pcols].to_numpy(float).ravel()
    q = (fdr_q(flat) if fdr else flat).reshape(len(out), len(pcols))
    for j, k in enumerate(TREND_SERIES):
        out[f"{k}_q"] = q[:, j]
    out["flags"] = _flags(out)
    ts = pd.to_datetime(dated["ts"])
    out["partial"] = partial_months(out["month"], ts.min(), ts.max())
    return out[cols]


def monthly_trends(ws: Workspace, fdr: bool = True) -> pd.DataFrame:
    """Monthly sentiment, aspect mentions and churn risk of the newest scoring run with
    month-over-month significance flags (:func:`trends_from_frame`; empty without a run)."""
    run = latest_id(ws, SCORES_STAGE)
    if run is None:
        return trends_from_frame(pd.DataFrame(columns=["ts"]))
    return trends_from_frame(load_aspect_reviews(ws, run, latest_id(ws, PROFILES_STAGE)), fdr)


def partial_months(months: pd.Series, first: object, last: object) -> pd.Series:
    """Per month start: whether the data (``first`` .. ``last``) covers that month only in part —
    the first month when it starts after the 1st, the last when it ends before the month's last
    day. A partial month's counts and sums are not a collapse."""
    m = pd.to_datetime(pd.Series(months)).dt.to_period("M")
    if pd.isna(first) or pd.isna(last):
        return pd.Series(False, index=m.index)
    first, last = pd.Timestamp(first), pd.Timestamp(last)
    head = (m == first.to_period("M")) & (first.normalize() > first.to_period("M").start_time)
    tail = (m == last.to_period("M")) & (last.normalize() < last.to_period("M").end_time.normalize())
    return (head | tail).to_numpy()


def activity_by_source(ws: Workspace) -> pd.DataFrame:
    """Revenue, orders and reviews per month, each only within its own source's dates (NaN
    outside: orders from 2010 and reviews from 2005 share one chart without fake zeros), with
    ``revenue_partial`` / ``reviews_partial`` marking a source's partly covered first/last month."""
    df = monthly_activity(ws)
    if df.empty:
        return df.assign(revenue_partial=False, reviews_partial=False)
    df["month"] = pd.to_datetime(df["month"])
    bounds = {
        "orders": ws.query_one("SELECT min(ts), max(ts) FROM orders"),
        "reviews": ws.query_one("SELECT min(ts), max(ts) FROM reviews WHERE ts IS NOT NULL"),
    }
    for src, cols, flag in (
        ("orders", ["revenue", "orders"], "revenue_partial"),
        ("reviews", ["reviews", "mean_rating"], "reviews_partial"),
    ):
        first, last = bounds[src]
        if first is None:
            df[cols] = np.nan
            df[flag] = False
            continue
        inside = (df["month"] >= pd.Timestamp(first).to_period("M").start_time) & (
            df["month"] <= pd.Timestamp(last)
        )
        df[cols] = df[cols].astype(float).where(inside)
        df[flag] = partial_months(df["month"], first, last) & inside.to_numpy()
    return df
