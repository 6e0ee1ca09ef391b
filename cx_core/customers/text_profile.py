"""What each customer writes: review counts, ratings, sentiment, complaints, praise and risk.

The inputs are the workspace's ``reviews`` (joined to customers by
``customer_id``) and, when a review-scoring run exists, its ``review_scores``
rows (latest run with ``stage='review_scores'`` and ``status='done'``).  The
per-customer profile is stored with the customer profiles (the
``customer_profiles`` columns listed in :data:`TEXT_PROFILE_COLUMNS`); the
churn model uses the same signals cut at a date (:func:`aggregate_signals`
with ``cutoff``).

Definitions (per customer, over the reviews with a customer id):

* ``n_reviews``: reviews written; ``mean_rating``: mean star rating (NULL
  without rated reviews).
* Over *scored* reviews only: ``mean_sentiment`` (mean ``sentiment_score`` in
  [-1, 1]), ``negative_share`` (sentiment label ``negative``),
  ``complaint_rate`` / ``praise_rate`` (share of reviews with at least one
  aspect scored below :data:`COMPLAINT_BELOW` / above :data:`PRAISE_ABOVE`),
  ``risk_rate`` (share with ``risk >= RISK_AT`` or any risk flag),
  ``top_complaints`` / ``top_praise`` (the customer's most frequent
  complained-about / praised aspects, up to :data:`TOP_ASPECTS`).
* No reviews: every column is NULL.  Reviews but no scores yet: the counts and
  ratings are filled and the score columns stay NULL; never a crash.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from cx_core.store.db import Workspace

#: An aspect scored below this (in [-1, 1]) is a complaint.
COMPLAINT_BELOW = -0.25
#: An aspect scored above this is praise.
PRAISE_ABOVE = 0.25
#: A review with risk at or above this (or any risk flag) counts as a risk signal.
RISK_AT = 0.5
#: Aspects listed in ``top_complaints`` / ``top_praise``.
TOP_ASPECTS = 3
SCORES_STAGE = "review_scores"

TEXT_PROFILE_COLUMNS = (
    "n_reviews",
    "mean_rating",
    "mean_sentiment",
    "negative_share",
    "complaint_rate",
    "praise_rate",
    "risk_rate",
    "top_complaints",
    "top_praise",
)
#: Numeric signals the churn model reads (plus the date of the last review).
SIGNAL_STATS = (
    "n_reviews",
    "mean_rating",
    "low_rating_share",
    "mean_sentiment",
    "negative_share",
    "complaint_rate",
    "praise_rate",
    "risk_rate",
    "mean_risk",
)


def load_review_signals(ws: Workspace, scores_run_id: str | None = None) -> pd.DataFrame:
    """One row per review with a customer id, with its scores from ``scores_run_id`` (if given)."""
    raw = ws.query_df(
        "SELECT r.customer_id, r.ts, r.rating, s.sentiment, s.sentiment_score, "
        "s.aspect_sentiment_json, s.risk, s.risk_flags FROM reviews r "
        "LEFT JOIN (SELECT * FROM review_scores WHERE run_id = ?) s USING (dataset_id, review_id) "
        "WHERE r.customer_id IS NOT NULL",
        [scores_run_id or ""],
    )
    return review_signals(raw)


def _aspects(raw: object, keep: str) -> list[str]:
    """Aspects of one review's ``aspect_sentiment_json`` that are complaints or praise."""
    if not isinstance(raw, (str, dict)) or raw == "":
        return []  # NULL: unscored, or scored without aspects
    try:
        scores = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return []
    if not isinstance(scores, dict):
        return []
    if keep == "complaint":
        return sorted(a for a, v in scores.items() if v is not None and float(v) < COMPLAINT_BELOW)
    return sorted(a for a, v in scores.items() if v is not None and float(v) > PRAISE_ABOVE)


def _has_flags(flags: object) -> bool:
    """Whether a ``risk_flags`` value holds at least one flag."""
    return isinstance(flags, (list, tuple, np.ndarray)) and len(flags) > 0


def review_signals(raw: pd.DataFrame) -> pd.DataFrame:
    """Per-review signals from review rows joined to their scores (NaN where a review is unscored).

    ``raw`` needs ``customer_id``, ``ts``, ``rating``, ``sentiment``,
    ``sentiment_score``, ``aspect_sentiment_json``, ``risk`` and ``risk_flags``.
    """
    scored = raw["sentiment"].notna().to_numpy() | raw["sentiment_score"].notna().to_numpy()
    comp = [_aspects(v, "complaint") if s else [] for v, s in zip(raw["aspect_sentiment_json"], scored)]
    praise = [_aspects(v, "praise") if s else [] for v, s in zip(raw["aspect_sentiment_json"], scored)]
    risk = pd.to_numeric(raw["risk"], errors="coerce").to_numpy(dtype=float)
    flagged = np.array([_has_flags(f) for f in raw["risk_flags"]], dtype=bool)
    nan = np.full(len(raw), np.nan)
    label = raw["sentiment"].astype("string").str.lower()
    return pd.DataFrame(
        {
            "customer_id": raw["customer_id"].astype(str).to_numpy(),
            "ts": pd.to_datetime(raw["ts"]).to_numpy(),
            "rating": pd.to_numeric(raw["rating"], errors="coerce").to_numpy(dtype=float),
            "scored": scored,
            "sentiment_score": pd.to_numeric(raw["sentiment_score"], errors="coerce").to_numpy(dtype=float),
            "negative": np.where(scored, (label == "negative").fillna(False).to_numpy(dtype=float), nan),
            "complaint": np.where(scored, np.array([len(c) > 0 for c in comp], dtype=float), nan),
            "praise": np.where(scored, np.array([len(p) > 0 for p in praise], dtype=float), nan),
            "risk": np.where(scored, risk, nan),
            "risk_signal": np.where(scored, ((np.nan_to_num(risk) >= RISK_AT) | flagged).astype(float), nan),
            "complaint_aspects": comp,
            "praise_aspects": praise,
        }
    )


def aggregate_signals(signals: pd.DataFrame, cutoff: object = None) -> pd.DataFrame:
    """Per-customer numeric text signals (:data:`SIGNAL_STATS` and ``last_review``).

    With a ``cutoff`` only reviews dated on or before that calendar day count;
    undated reviews are then left out, since nobody can say when they were
    written (without a cutoff they count).
    """
    s = signals
    if cutoff is not None:
        day = pd.Timestamp(cutoff).normalize() + pd.Timedelta(days=1)
        s = s[s["ts"].notna() & (s["ts"] < day)]
    g = s.assign(low=np.where(s["rating"].notna(), (s["rating"] <= 2).astype(float), np.nan)).groupby(
        "customer_id", sort=True
    )
    out = pd.DataFrame(
        {
            "n_reviews": g.size().astype(np.int64),
            "mean_rating": g["rating"].mean(),
            "low_rating_share": g["low"].mean(),
            "mean_sentiment": g["sentiment_score"].mean(),
            "negative_share": g["negative"].mean(),
            "complaint_rate": g["complaint"].mean(),
            "praise_rate": g["praise"].mean(),
            "risk_rate": g["risk_signal"].mean(),
            "mean_risk": g["risk"].mean(),
            "last_review": g["ts"].max(),
        }
    )
    out.index.name = "customer_id"
    return out


def _top(lists: pd.Series) -> pd.Series:
    """Most frequent aspects per customer (ties by name), as lists of up to TOP_ASPECTS."""
    flat = lists.explode().dropna()
    if flat.empty:
        return pd.Series([[] for _ in range(lists.index.nunique())], index=lists.index.unique(), dtype=object)
    counts = flat.groupby(level=0).value_counts().rename("n").reset_index()
    counts.columns = ["customer_id", "aspect", "n"]
    counts = counts.sort_values(["customer_id", "n", "aspect"], ascending=[True, False, True])
    top = counts.groupby("customer_id")["aspect"].agg(lambda a: list(a[:TOP_ASPECTS]))
    return top.reindex(lists.index.unique()).map(lambda v: v if isinstance(v, list) else [])


def text_profiles(signals: pd.DataFrame) -> pd.DataFrame:
    """The stored text profile per customer (:data:`TEXT_PROFILE_COLUMNS`), indexed by customer_id."""
    if signals.empty:
        return pd.DataFrame(
            columns=list(TEXT_PROFILE_COLUMNS), index=pd.Index([], name="customer_id", dtype=object)
        )
    agg = aggregate_signals(signals)
    by = signals.set_index("customer_id")
    out = agg.reindex(columns=[c for c in TEXT_PROFILE_COLUMNS if c in agg.columns])
    out["top_complaints"] = _top(by["complaint_aspects"]).reindex(out.index)
    out["top_praise"] = _top(by["praise_aspects"]).reindex(out.index)
    unscored = agg["mean_sentiment"].isna() & agg["negative_share"].isna()
    out.loc[unscored, ["top_complaints", "top_praise"]] = None
    return out[list(TEXT_PROFILE_COLUMNS)]


def text_profile_summary(profiles: pd.DataFrame, scores_run_id: str | None) -> dict:
    """JSON-ready facts about the text profile of a run (for the run's metrics)."""
    with_reviews = (
        profiles["n_reviews"].notna() & (profiles["n_reviews"] > 0)
        if "n_reviews" in profiles
        else pd.Series(False, index=profiles.index)
    )
    scored = profiles["mean_sentiment"].notna() if "mean_sentiment" in profiles else with_reviews & False
    return {
        "scores_run_id": scores_run_id,
        "customers_with_reviews": int(with_reviews.sum()),
        "customers_with_scored_reviews": int(scored.sum()),
        "thresholds": {"complaint_below": COMPLAINT_BELOW, "praise_above": PRAISE_ABOVE, "risk_at": RISK_AT},
    }


#: Row labels of :func:`signal_rows`, in display order.
SIGNAL_LABELS = {
    "n_reviews": "Reviews written",
    "mean_rating": "Mean rating",
    "mean_sentiment": "Mean sentiment (-1 … 1)",
    "negative_share": "Negative reviews",
    "complaint_rate": "Reviews with a complaint",
    "praise_rate": "Reviews with praise",
    "risk_rate": "Reviews with a risk signal",
    "top_complaints": "Top complaints",
    "top_praise": "Top praise",
}


def signal_rows(record: dict) -> pd.DataFrame:
    """One customer's text profile as (signal, value) rows of display strings ("—" when missing)."""
    rows = []
    for col, label in SIGNAL_LABELS.items():
        v = record.get(col)
        if isinstance(v, (list, tuple, np.ndarray)):
            text = ", ".join(map(str, v)) or "none"
        elif v is None or pd.isna(v):
            text = "—"
        elif col.endswith(("_share", "_rate")):
            text = f"{float(v):.0%}"
        elif col == "n_reviews":
            text = f"{int(v):,}"
        else:
            text = f"{float(v):.2f}"
        rows.append((label, text))
    return pd.DataFrame(rows, columns=["signal", "value"])
