"""Workspace side of text recommendations: reviews with scores, their cached embeddings, names.

:func:`text_recommendations` reads every review with an item (sentiment and
praised aspects from the newest ``review_scores`` run), takes the vectors from
the embedding cache (encoding missing texts with the configured encoder),
fits :class:`~cx_core.recommend.text.TextRecommender` and recommends for the
reviewers asked for.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from cx_core.progress import Progress
from cx_core.recommend.text import TextRecommender
from cx_core.store.db import Workspace
from cx_core.store.runs import StageName, latest_id


def _praised_aspects(raw: object) -> list[str]:
    """Aspects an ``aspect_sentiment_json`` value scores as praise."""
    from cx_core.customers.text_profile import PRAISE_ABOVE

    if not isinstance(raw, str) or not raw:
        return []
    try:
        scores = json.loads(raw)
    except ValueError:
        return []
    if not isinstance(scores, dict):
        return []
    return sorted(a for a, v in scores.items() if isinstance(v, (int, float)) and float(v) > PRAISE_ABOVE)


def load_review_rows(ws: Workspace) -> pd.DataFrame:
    """Reviews usable for text recommendations (those with an item), with the newest scores."""
    df = ws.query_df(
        "SELECT r.dataset_id, r.review_id, r.customer_id, r.item, r.rating, r.category, r.ts, "
        "r.text_hash, s.sentiment, s.aspect_sentiment_json FROM reviews r "
        "LEFT JOIN (SELECT * FROM review_scores WHERE run_id = ?) s USING (dataset_id, review_id) "
        "WHERE r.item IS NOT NULL ORDER BY r.dataset_id, r.review_id",
        [latest_id(ws, StageName.REVIEW_SCORES) or ""],
    )
    df["praised_aspects"] = [_praised_aspects(v) for v in df["aspect_sentiment_json"]]
    return df.drop(columns="aspect_sentiment_json")


def has_review_items(ws: Workspace) -> bool:
    """Whether any review names an item."""
    return bool(ws.scalar("SELECT count(*) FROM reviews WHERE item IS NOT NULL"))


def review_vectors(
    ws: Workspace, rows: pd.DataFrame, encoder: Any, progress: Progress | None = None
) -> np.ndarray:
    """Cached embeddings of the rows' texts (missing ones are encoded and cached first)."""
    from cx_core.text.embeddings import embed_reviews, fetch_cached

    step = progress or (lambda f, m: None)
    model_id = encoder.identify()
    hashes = rows["text_hash"].tolist()
    found, vecs = fetch_cached(ws, model_id, list(dict.fromkeys(hashes)), encoder.dim_)
    if len(found) < len(set(hashes)):
        embed_reviews(
            ws, encoder, lambda d, n: step(0.1 + 0.4 * d / max(n, 1), f"Embedding {d:,}/{n:,} review texts")
        )
        found, vecs = fetch_cached(ws, model_id, list(dict.fromkeys(hashes)), encoder.dim_)
    pos = {h: i for i, h in enumerate(found)}
    return vecs[[pos[h] for h in hashes]]


def review_item_names(ws: Workspace) -> dict[str, str]:
    """Item names: the orders' most frequent name, else "<category> <item>" from the reviews."""
    named = ws.query_df(
        "SELECT item, arg_max(name, n) AS name FROM (SELECT item, item_name AS name, count(*) AS n "
        "FROM orders WHERE item IS NOT NULL AND item_name IS NOT NULL GROUP BY ALL) GROUP BY item"
    )
    cats = ws.query_df(
        "SELECT item, mode(category) AS category FROM reviews WHERE item IS NOT NULL "
        "AND category IS NOT NULL GROUP BY item"
    )
    out = {str(i): f"{c} {i}" for i, c in zip(cats["item"], cats["category"])}
    out.update({str(i): str(n) for i, n in zip(named["item"], named["name"])})
    return out


def text_recommendations(
    ws: Workspace,
    encoder: Any,
    reviewers: list[str] | None = None,
    n: int = 10,
    exclude: pd.DataFrame | None = None,
    progress: Progress | None = None,
) -> tuple[pd.DataFrame, TextRecommender]:
    """Fit the text recommender on the workspace's reviews; recommendations for ``reviewers``
    (every reviewer when None; unknown ones are skipped) and the fitted model."""
    step = progress or (lambda f, m: None)
    step(0.05, "Reading reviews")
    rows = load_review_rows(ws)
    if rows.empty:
        raise ValueError(
            "No reviews with an item: load reviews with an item (product) column to get text recommendations."
        )
    vecs = review_vectors(ws, rows, encoder, step)
    step(0.55, "Fitting the text recommender")
    model = TextRecommender().fit(rows, vecs, review_item_names(ws), exclude=exclude)
    if reviewers is not None:
        known = set(model.reviewers_)
        reviewers = [r for r in reviewers if r in known]
    step(0.7, "Recommending from review texts")
    recs = (
        model.recommend(reviewers, n=n)
        if reviewers is None or reviewers
        else pd.DataFrame(columns=["customer_id"])
    )
    return recs, model


def reviewer_reviews(ws: Workspace, reviewer: str) -> pd.DataFrame:
    """A reviewer's reviews (customer id, or ``review:<id>`` for an anonymous one), newest first."""
    from cx_core.recommend.text import ANON_PREFIX, is_anonymous

    if is_anonymous(reviewer):
        return ws.query_df(
            "SELECT review_id, item, rating, ts, title, text FROM reviews "
            "WHERE customer_id IS NULL AND review_id = ?",
            [reviewer[len(ANON_PREFIX) :]],
        )
    return ws.query_df(
        "SELECT review_id, item, rating, ts, title, text FROM reviews "
        "WHERE customer_id = ? ORDER BY ts DESC NULLS LAST",
        [reviewer],
    )
