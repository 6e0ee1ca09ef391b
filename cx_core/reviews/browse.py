"""Read scored reviews for the Reviews page: filters by sentiment, score, aspect, segment and date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd

from cx_core.store.db import Workspace
from cx_core.store.runs import StageName, latest_id


@dataclass(frozen=True)
class ReviewFilter:
    """What the user filters on (None / empty = no filter)."""

    sentiments: tuple[str, ...] = ()
    score_min: float = -1.0
    score_max: float = 1.0
    aspect: str | None = None
    segment_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    include_undated: bool = True  # reviews without a date pass a date filter (no silent loss)
    limit: int = 500


def segment_options(ws: Workspace) -> pd.DataFrame:
    """segment_id, name, size of the newest segmentation (empty frame when there is none)."""
    run_id = latest_id(ws, StageName.SEGMENTS)
    if run_id is None:
        return pd.DataFrame(columns=["segment_id", "name", "size"])
    return ws.query_df(
        "SELECT segment_id, name, size FROM segment_info WHERE run_id = ? ORDER BY segment_id", [run_id]
    )


def aspect_names(ws: Workspace, run_id: str) -> list[str]:
    """Aspects found in a scoring run, most frequent first."""
    df = ws.query_df(
        "SELECT a AS aspect, count(*) AS n FROM (SELECT unnest(aspects) AS a "
        "FROM review_scores WHERE run_id = ?) GROUP BY a ORDER BY n DESC, a",
        [run_id],
    )
    return df["aspect"].tolist()


def date_bounds(ws: Workspace) -> tuple[date | None, date | None]:
    """First and last review date (None when reviews carry no dates)."""
    row = ws.query_one("SELECT min(ts)::DATE, max(ts)::DATE FROM reviews")
    return (row[0], row[1]) if row else (None, None)


def _segment_clause(ws: Workspace, segment_id: int) -> tuple[str, list[Any]]:
    run_id = latest_id(ws, StageName.SEGMENTS)
    sql = (
        " AND EXISTS (SELECT 1 FROM segments g WHERE g.run_id = ? AND g.segment_id = ? AND ("
        "(g.unit_kind = 'review' AND (g.unit_id = r.review_id "
        "OR g.unit_id = r.dataset_id || '/' || r.review_id)) OR "
        "(g.unit_kind = 'customer' AND g.unit_id = r.customer_id)))"
    )
    return sql, [run_id, int(segment_id)]


def filter_reviews(ws: Workspace, run_id: str, f: ReviewFilter) -> pd.DataFrame:
    """Scored reviews of ``run_id`` that pass ``f``, most negative first (at most ``f.limit``)."""
    sql = (
        "SELECT r.review_id, r.dataset_id, r.customer_id, r.ts::DATE AS date, r.rating, "
        "s.sentiment, s.sentiment_method AS method, s.sentiment_score AS score, s.rating_pred, "
        "s.aspects, s.aspect_sentiment_json, s.risk, s.risk_flags, r.title, r.text "
        "FROM review_scores s JOIN reviews r USING (dataset_id, review_id) "
        "WHERE s.run_id = ? AND s.sentiment_score BETWEEN ? AND ?"
    )
    params: list[Any] = [run_id, float(f.score_min), float(f.score_max)]
    if f.sentiments:
        sql += f" AND s.sentiment IN ({', '.join('?' for _ in f.sentiments)})"
        params += list(f.sentiments)
    if f.aspect:
        sql += " AND list_contains(s.aspects, ?)"
        params.append(f.aspect)
    if f.segment_id is not None and latest_id(ws, StageName.SEGMENTS) is not None:
        clause, extra = _segment_clause(ws, f.segment_id)
        sql += clause
        params += extra
    undated = " OR r.ts IS NULL" if f.include_undated else ""
    if f.date_from is not None:
        sql += f" AND (r.ts >= ?{undated})"
        params.append(f.date_from)
    if f.date_to is not None:
        sql += f" AND (r.ts < ?{undated})"
        params.append(f.date_to + timedelta(days=1))
    sql += " ORDER BY s.sentiment_score, r.review_id LIMIT ?"
    params.append(int(f.limit))
    return ws.query_df(sql, params)


def count_reviews(ws: Workspace, run_id: str) -> dict[str, int]:
    """Reviews per sentiment in a scoring run."""
    df = ws.query_df(
        "SELECT sentiment, count(*) AS n FROM review_scores WHERE run_id = ? GROUP BY sentiment", [run_id]
    )
    return dict(zip(df["sentiment"], df["n"].astype(int)))


def unscored_reviews(ws: Workspace, run_id: str) -> int:
    """Reviews with text loaded after a scoring run (not in it): the page asks to score again."""
    return int(
        ws.scalar(
            "SELECT count(*) FROM reviews r WHERE length(trim(r.text)) > 0 AND NOT EXISTS "
            "(SELECT 1 FROM review_scores s WHERE s.run_id = ? AND s.dataset_id = r.dataset_id "
            "AND s.review_id = r.review_id)",
            [run_id],
        )
        or 0
    )


def count_texts(ws: Workspace, dataset_ids: list[str] | None = None) -> int:
    """Reviews with non-empty text (only those of ``dataset_ids`` when given)."""
    if dataset_ids is None:
        return int(ws.scalar("SELECT count(*) FROM reviews WHERE length(trim(text)) > 0"))
    return int(
        ws.scalar(
            "SELECT count(*) FROM reviews WHERE length(trim(text)) > 0 AND list_contains(?, dataset_id)",
            [list(dataset_ids)],
        )
    )
