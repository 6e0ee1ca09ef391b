"""Read-side queries over a persisted segment run: map points, reviews per segment over time, aspects.

All SQL for the Segments page lives here (pages only call these functions).
A run's reviews are those of its units: for customer runs the customer's
reviews, for review runs the review itself; review scores come from the
scoring run the segment run recorded (``config.inputs.review_scores_run``).
"""

from __future__ import annotations

import pandas as pd

from cx_core.store import runs
from cx_core.store.db import Workspace


def segment_runs(ws: Workspace) -> pd.DataFrame:
    """Finished segment runs, newest first: run_id, finished_at, started_at, dataset_key, config,
    metrics (dicts), unit_kind, units and segments (count without outliers)."""
    history = runs.history(ws, runs.StageName.SEGMENTS)
    counts = ws.query_df(
        "SELECT run_id, any_value(unit_kind) AS unit_kind, count(*) AS units, "
        "count(DISTINCT segment_id) FILTER (WHERE segment_id >= 0) AS segments "
        "FROM segments GROUP BY run_id"
    )
    return history.merge(counts, on="run_id", how="inner").reset_index(drop=True)


_REVIEW_KEYS = {
    "customer": "SELECT customer_id AS k, dataset_id, review_id FROM reviews WHERE customer_id IS NOT NULL",
    "review": "SELECT review_id AS k, dataset_id, review_id FROM reviews UNION ALL "
    "SELECT dataset_id || '/' || review_id, dataset_id, review_id FROM reviews",
}


def _run_meta(ws: Workspace, run_id: str) -> tuple[str, str | None]:
    """(unit kind, review scoring run) of a segment run."""
    run = runs.get(ws, run_id)
    if run is None:
        raise ValueError(f"no segment run {run_id}")
    cfg = run.config
    kind = cfg.get("unit_kind", "customer")
    if kind not in _REVIEW_KEYS:
        raise ValueError(f"unknown unit kind {kind!r} in run {run_id}")
    return kind, cfg.get("inputs", {}).get("review_scores_run")


def _seg_reviews_cte(kind: str) -> str:
    """CTE ``sr``: every review of the run's units with its segment and score (params: run, scores)."""
    return (
        f"WITH keys AS ({_REVIEW_KEYS[kind]}), "
        "sr AS (SELECT s.segment_id, s.unit_id, r.review_id, r.ts, r.rating, r.text, "
        "sc.sentiment_score, sc.aspects, sc.aspect_sentiment_json "
        "FROM segments s JOIN keys ON keys.k = s.unit_id "
        "JOIN reviews r ON r.dataset_id = keys.dataset_id AND r.review_id = keys.review_id "
        "LEFT JOIN review_scores sc ON sc.run_id = $scores AND sc.dataset_id = r.dataset_id "
        "AND sc.review_id = r.review_id WHERE s.run_id = $run) "
    )


def load_units(ws: Workspace, run_id: str, limit: int = 20_000) -> pd.DataFrame:
    """Map points of a run (a fixed pseudo-random sample of ``limit`` units) with a text snippet."""
    kind, scores = _run_meta(ws, run_id)
    sql = (
        _seg_reviews_cte(kind) + ", snip AS (SELECT unit_id, arg_min(left(text, 160), review_id) AS snippet, "
        "count(*) AS reviews FROM sr GROUP BY unit_id) "
        "SELECT s.unit_id, s.segment_id, s.is_outlier, s.probability, s.x, s.y, "
        "i.name AS segment, snip.snippet, coalesce(snip.reviews, 0) AS reviews "
        "FROM segments s LEFT JOIN segment_info i ON i.run_id = s.run_id "
        "AND i.segment_id = s.segment_id LEFT JOIN snip USING (unit_id) "
        "WHERE s.run_id = $run ORDER BY hash(s.unit_id), s.unit_id LIMIT $limit"
    )
    return ws.query_df(sql, {"run": run_id, "scores": scores, "limit": int(limit)})


def segment_timeline(ws: Workspace, run_id: str) -> pd.DataFrame:
    """Per month and segment: reviews, mean rating, mean sentiment score (NULL without scores)."""
    kind, scores = _run_meta(ws, run_id)
    sql = (
        _seg_reviews_cte(kind) + "SELECT date_trunc('month', ts) AS month, segment_id, count(*) AS reviews, "
        "avg(rating) AS mean_rating, avg(sentiment_score) AS mean_sentiment "
        "FROM sr WHERE ts IS NOT NULL GROUP BY ALL ORDER BY month, segment_id"
    )
    return ws.query_df(sql, {"run": run_id, "scores": scores})


def segment_aspects(ws: Workspace, run_id: str, by_month: bool = False) -> pd.DataFrame:
    """Aspect mentions per segment (and month): mentions, share of the segment's reviews."""
    kind, scores = _run_meta(ws, run_id)
    month = "date_trunc('month', ts)" if by_month else "NULL::TIMESTAMP"
    sql = (
        _seg_reviews_cte(kind) + f", base AS (SELECT {month} AS month, segment_id, count(*) AS n FROM sr "
        "WHERE $by_month = false OR ts IS NOT NULL GROUP BY ALL), "
        f"m AS (SELECT {month} AS month, segment_id, a.aspect, count(*) AS mentions "
        "FROM sr, unnest(sr.aspects) AS a(aspect) "
        "WHERE $by_month = false OR ts IS NOT NULL GROUP BY ALL) "
        "SELECT m.month, m.segment_id, m.aspect, m.mentions, m.mentions / base.n AS share "
        "FROM m JOIN base ON base.segment_id = m.segment_id "
        "AND base.month IS NOT DISTINCT FROM m.month ORDER BY 1, 2, 3"
    )
    df = ws.query_df(sql, {"run": run_id, "scores": scores, "by_month": by_month})
    return df if by_month else df.drop(columns="month")


def review_sample(ws: Workspace, run_id: str, per_segment: int, seed: int = 42) -> pd.DataFrame:
    """Up to ``per_segment`` reviews with text of each segment of a run (outliers left out), drawn
    by a seeded hash so the same run and seed give the same sample: segment_id, review_id, text."""
    kind, scores = _run_meta(ws, run_id)
    sql = (
        _seg_reviews_cte(kind) + "SELECT segment_id, review_id, text FROM sr "
        "WHERE segment_id >= 0 AND length(trim(text)) > 0 "
        "QUALIFY row_number() OVER (PARTITION BY segment_id "
        "ORDER BY hash(review_id || $seed), review_id) <= $n ORDER BY segment_id, review_id"
    )
    return ws.query_df(sql, {"run": run_id, "scores": scores, "n": int(per_segment), "seed": str(seed)})
