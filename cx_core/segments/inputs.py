"""What a segmentation run reads from the workspace: units, review texts and vectors, behaviour.

A *unit* is what one point on the segment map is: a customer (when orders or
reviews carry customer ids) or a single review (reviews without customer ids,
e.g. a product-review export).  :func:`load_inputs` returns everything the
run needs as plain numpy/pandas; all SQL stays here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from cx_core.progress import Progress
from cx_core.store.db import Workspace
from cx_core.store.runs import latest_id

UNIT_KINDS = ("auto", "customer", "review")

#: profile columns used as behaviour when present and not all empty
PROFILE_BEHAVIOUR = (
    "recency_days",
    "n_orders",
    "revenue",
    "aov",
    "tenure_days",
    "return_rate",
    "clv",
    "p_alive",
    "churn_prob",
)
#: per-customer purchase-mix columns computed from order lines (see :func:`purchase_mix`)
MIX_COLUMNS = ("discount_share", "price_level")

_REVIEWS_SQL = """
SELECT r.dataset_id, r.review_id, r.customer_id, r.ts, r.title, r.text, r.rating, r.text_hash,
       s.sentiment_score, s.aspects, s.aspect_sentiment_json, s.risk
FROM reviews r
LEFT JOIN review_scores s ON s.run_id = ? AND s.dataset_id = r.dataset_id
     AND s.review_id = r.review_id
WHERE trim(r.text) <> '' {where}
ORDER BY r.customer_id NULLS LAST, r.dataset_id, r.review_id
"""

_MIX_SQL = """
WITH l AS (
    SELECT customer_id, item,
           coalesce(unit_price, amount / nullif(quantity, 0)) AS price
    FROM orders WHERE customer_id IS NOT NULL AND NOT is_return AND item IS NOT NULL),
p AS (SELECT *, median(price) OVER (PARTITION BY item) AS item_price FROM l WHERE price > 0)
SELECT customer_id,
       avg(CASE WHEN price < 0.97 * item_price THEN 1.0 ELSE 0.0 END) AS discount_share,
       avg(ln(item_price)) AS price_level
FROM p GROUP BY customer_id
"""


@dataclass
class SegmentInputs:
    """Everything a run segments and describes, in unit order.

    ``text`` is ``(n, d)`` (NaN rows: unit without review text) or None;
    ``behaviour`` numeric columns from orders (None without orders);
    ``signals`` numeric text signals (rating, sentiment, risk) or None;
    ``reviews`` one row per review used, with ``unit`` (its unit's index) and
    ``vec_row`` (its row in ``review_vectors``); ``value`` revenue / clv /
    churn per unit (customers with orders).
    """

    unit_kind: str
    unit_ids: list[str]
    text: np.ndarray | None
    behaviour: pd.DataFrame | None
    signals: pd.DataFrame | None
    reviews: pd.DataFrame
    review_vectors: np.ndarray | None
    value: pd.DataFrame | None
    sources: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of units."""
        return len(self.unit_ids)


def choose_unit_kind(ws: Workspace, unit: str) -> str:
    """``customer`` when orders or reviews carry customer ids, else ``review`` (for ``auto``)."""
    if unit not in UNIT_KINDS:
        raise ValueError(f"unit must be one of {UNIT_KINDS}, got {unit!r}")
    if unit != "auto":
        return unit
    has_ids = ws.scalar(
        "SELECT (SELECT count(*) FROM orders WHERE customer_id IS NOT NULL) + "
        "(SELECT count(*) FROM reviews WHERE customer_id IS NOT NULL)"
    )
    return "customer" if has_ids else "review"


def load_reviews(ws: Workspace, unit_kind: str, scores_run: str | None) -> pd.DataFrame:
    """Non-empty reviews (with their scores when a scoring run exists), in a fixed order."""
    where = "AND r.customer_id IS NOT NULL" if unit_kind == "customer" else ""
    df = ws.query_df(_REVIEWS_SQL.format(where=where), [scores_run])
    df["doc"] = (df["title"].fillna("") + ". " + df["text"]).str.strip(". ")
    return df


def purchase_mix(ws: Workspace) -> pd.DataFrame:
    """Per customer: share of lines bought below the item's median price, mean log item price.

    ``discount_share`` reads promotion sensitivity and ``price_level`` the price
    tier a customer buys in, from order lines alone (no list price needed).
    """
    return ws.query_df(_MIX_SQL).set_index("customer_id")


def load_profiles_frame(ws: Workspace, profiles_run: str | None) -> pd.DataFrame:
    """The profile rows of a run indexed by customer_id (empty frame when None)."""
    if profiles_run is None:
        return pd.DataFrame()
    return ws.query_df("SELECT * FROM customer_profiles WHERE run_id = ?", [profiles_run]).set_index(
        "customer_id"
    )


def _numeric(df: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """The listed columns that exist and hold at least one number, as float."""
    keep = [c for c in columns if c in df.columns and pd.to_numeric(df[c], errors="coerce").notna().any()]
    return df[keep].apply(pd.to_numeric, errors="coerce").astype(float)


def _churn_value(prof: pd.DataFrame) -> tuple[pd.Series, str]:
    """Churn probability per customer and where it came from."""
    if "churn_prob" in prof.columns and prof["churn_prob"].notna().mean() >= 0.5:
        method = prof.get("churn_method", pd.Series(dtype=object)).dropna()
        label = f"churn model ({method.iloc[0]})" if len(method) else "churn model"
        return prof["churn_prob"].astype(float), label
    return 1.0 - prof["p_alive"].astype(float), "1 - P(alive) (BG/NBD)"


def customer_behaviour(
    ws: Workspace, units: list[str], profiles_run: str | None
) -> tuple[pd.DataFrame | None, pd.DataFrame | None, dict]:
    """(behaviour columns, value columns, notes) for customer units; Nones without profiles."""
    prof = load_profiles_frame(ws, profiles_run)
    if prof.empty:
        return None, None, {}
    prof = prof.reindex(units)
    mix = purchase_mix(ws).reindex(units)
    beh = pd.concat([_numeric(prof, PROFILE_BEHAVIOUR), _numeric(mix, MIX_COLUMNS)], axis=1)
    churn, churn_source = _churn_value(prof)
    value = pd.DataFrame(
        {"revenue": prof["revenue"].astype(float), "clv": prof["clv"].astype(float), "churn": churn},
        index=units,
    )
    notes = {"churn_source": churn_source, "behaviour_columns": list(beh.columns)}
    return beh.reset_index(drop=True), value.reset_index(drop=True), notes


def review_signals(reviews: pd.DataFrame, unit_of_review: np.ndarray, n: int) -> pd.DataFrame | None:
    """Mean rating, sentiment score and risk per unit (columns that have any value)."""
    cols = [c for c in ("rating", "sentiment_score", "risk") if reviews[c].notna().any()]
    if not cols:
        return None
    frame = reviews[cols].astype(float).assign(unit=unit_of_review)
    out = frame.groupby("unit")[cols].mean().reindex(range(n))
    return out.rename(
        columns={"rating": "mean_rating", "sentiment_score": "mean_sentiment", "risk": "mean_risk"}
    ).reset_index(drop=True)


def review_unit_ids(reviews: pd.DataFrame) -> list[str]:
    """``review_id`` as the unit id, or ``dataset_id/review_id`` when ids repeat across datasets."""
    ids = reviews["review_id"].astype(str)
    if ids.duplicated().any():
        ids = reviews["dataset_id"].astype(str) + "/" + ids
    return ids.tolist()


def parse_json(value: Any, default: Any) -> Any:
    """``json.loads`` tolerant of NULL."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return default
    return json.loads(value)


def embed_review_texts(ws: Workspace, reviews: pd.DataFrame, encoder: Any, progress: Progress) -> np.ndarray:
    """One vector per review row; texts not in the embedding cache are encoded and stored."""
    from cx_core.text.embeddings import embed_texts_cached

    def step(done: int, total: int) -> None:
        progress(0.10 + 0.35 * done / max(total, 1), f"Embedding new review texts {done:,}/{total:,}")

    return embed_texts_cached(ws, encoder, reviews["text"].tolist(), progress=step)


def _customer_units(ws: Workspace, reviews: pd.DataFrame, profiles_run: str | None) -> list[str]:
    """Sorted ids of customers with a profile or a review."""
    ids = set(reviews["customer_id"].dropna().astype(str))
    if profiles_run is not None:
        ids |= {
            r[0]
            for r in ws.execute("SELECT customer_id FROM customer_profiles WHERE run_id = ?", [profiles_run])
        }
    return sorted(ids)


def load_inputs(
    ws: Workspace,
    unit_kind: str,
    use_text: bool,
    encoder_factory: Callable[[], Any],
    progress: Progress,
    profiles_run: str | None = None,
) -> SegmentInputs:
    """Read (and embed where needed) everything a run segments, for ``unit_kind`` units."""
    from cx_core.cluster import mean_review_embeddings

    scores_run = latest_id(ws, "review_scores")
    progress(0.05, "Reading reviews")
    reviews = load_reviews(ws, unit_kind, scores_run)
    if unit_kind == "customer":
        units = _customer_units(ws, reviews, profiles_run)
        unit_of = pd.Index(units).get_indexer(reviews["customer_id"].astype(str))
    else:
        units = review_unit_ids(reviews)
        unit_of = np.arange(len(reviews))
    reviews = reviews.assign(unit=unit_of, vec_row=np.arange(len(reviews)))
    vectors = text = None
    if use_text and len(reviews):
        vectors = embed_review_texts(ws, reviews, encoder_factory(), progress)
        text = (
            mean_review_embeddings(vectors, unit_of, np.arange(len(units)))
            if unit_kind == "customer"
            else vectors
        )
    progress(0.47, "Reading behaviour")
    behaviour = value = None
    notes: dict[str, Any] = {}
    if unit_kind == "customer":
        behaviour, value, notes = customer_behaviour(ws, units, profiles_run)
    signals = review_signals(reviews, unit_of, len(units)) if len(reviews) else None
    sources = {
        "unit_kind": unit_kind,
        "profiles_run": profiles_run if behaviour is not None else None,
        "review_scores_run": scores_run,
        "reviews_used": int(len(reviews)),
        "text": vectors is not None,
        "behaviour": behaviour is not None,
        **notes,
    }
    if unit_kind == "customer":
        sources["reviews_without_customer_id"] = int(
            ws.scalar("SELECT count(*) FROM reviews WHERE customer_id IS NULL AND trim(text) <> ''")
        )
    return SegmentInputs(unit_kind, units, text, behaviour, signals, reviews, vectors, value, sources)
