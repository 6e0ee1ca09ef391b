"""Read-only views of what is loaded: datasets, counts, date ranges, sample rows."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from cx_core.ingest.mapping import KINDS
from cx_core.ingest.pii import mask_frame
from cx_core.store.db import Workspace
from cx_core.store.sql import quote_ident

TEXT_COLUMNS = {"reviews": ("text", "title"), "customers": (), "orders": ()}
PII_COLUMNS = {"customers": {"name": "name", "email": "email", "phone": "phone"}}


@dataclass(frozen=True)
class TableSummary:
    """Counts and date range of one table kind."""

    kind: str
    rows: int
    customers: int
    date_min: str | None
    date_max: str | None


def list_datasets(ws: Workspace) -> pd.DataFrame:
    """Every loaded dataset, newest first."""
    return ws.query_df(
        "SELECT dataset_id, kind, source_name, rows, rejected, loaded_at "
        "FROM datasets ORDER BY loaded_at DESC"
    )


def dataset_version(ws: Workspace) -> str:
    """A cheap key that changes whenever datasets are added or removed (for UI caches)."""
    row = ws.query_one(
        "SELECT count(*), coalesce(max(loaded_at)::VARCHAR, ''), "
        "coalesce(string_agg(dataset_id, ',' ORDER BY dataset_id), '') FROM datasets"
    )
    return "|".join(str(x) for x in row)


def summarize(ws: Workspace) -> dict[str, TableSummary]:
    """Rows, distinct customers and date range for customers, orders and reviews."""
    out: dict[str, TableSummary] = {}
    for kind in KINDS:
        ts = {"customers": "signup_ts", "orders": "ts", "reviews": "ts"}[kind]
        rows, cust, lo, hi = ws.query_one(
            f"SELECT count(*), count(DISTINCT customer_id), min({ts})::DATE::VARCHAR, "
            f"max({ts})::DATE::VARCHAR FROM {quote_ident(kind)}"
        )
        out[kind] = TableSummary(kind, rows, cust, lo, hi)
    return out


def sample_rows(
    ws: Workspace, kind: str, n: int = 50, dataset_id: str | None = None, mask: bool = True
) -> pd.DataFrame:
    """The first ``n`` rows of a table (optionally of one dataset), personal data masked by default."""
    if kind not in KINDS:
        raise ValueError(f"unknown table kind {kind!r}")
    where, params = ("WHERE t.dataset_id = ?", [dataset_id]) if dataset_id else ("", [])
    df = ws.query_df(
        f"SELECT t.* FROM {quote_ident(kind)} t JOIN datasets d USING (dataset_id) "
        f"{where} ORDER BY d.loaded_at DESC LIMIT ?",
        [*params, int(n)],
    )
    df = df.drop(columns=[c for c in ("text_hash",) if c in df.columns])
    if not mask:
        return df
    return mask_frame(df, PII_COLUMNS.get(kind, {}), TEXT_COLUMNS[kind])


def monthly_activity(ws: Workspace) -> pd.DataFrame:
    """Revenue, orders and reviews per month (for the landing page chart)."""
    return ws.query_df(
        "WITH o AS (SELECT date_trunc('month', ts) AS month, sum(amount) AS revenue, "
        "count(DISTINCT order_id) AS orders FROM orders GROUP BY 1), "
        "r AS (SELECT date_trunc('month', ts) AS month, count(*) AS reviews, avg(rating) AS mean_rating "
        "FROM reviews WHERE ts IS NOT NULL GROUP BY 1) "
        "SELECT coalesce(o.month, r.month) AS month, coalesce(revenue, 0) AS revenue, "
        "coalesce(orders, 0) AS orders, coalesce(reviews, 0) AS reviews, mean_rating "
        "FROM o FULL JOIN r ON o.month = r.month ORDER BY 1"
    )


def dataset_labels(ws: Workspace, kind: str) -> dict[str, str]:
    """dataset_id -> "file name (N rows, id)" for pickers, newest first; the id stays the value."""
    df = list_datasets(ws)
    df = df[df["kind"] == kind]
    return {
        str(r.dataset_id): f"{r.source_name or 'unnamed'} ({int(r.rows):,} rows, {r.dataset_id})"
        for r in df.itertuples()
    }


def distinct_customers(ws: Workspace) -> int:
    """Distinct customer ids across the customers, orders and reviews tables."""
    return int(
        ws.scalar(
            "SELECT count(DISTINCT customer_id) FROM (SELECT customer_id FROM customers UNION ALL "
            "SELECT customer_id FROM orders UNION ALL SELECT customer_id FROM reviews) "
            "WHERE customer_id IS NOT NULL"
        )
        or 0
    )


def find_dataset_by_hash(ws: Workspace, sha256: str, kind: str) -> str | None:
    """The id of a dataset already loaded from a file with this content hash and kind, or None."""
    row = ws.query_one(
        "SELECT dataset_id FROM datasets WHERE sha256 = ? AND kind = ? LIMIT 1", [sha256, kind]
    )
    return None if row is None else str(row[0])


def count_rows(ws: Workspace, table: str) -> int:
    """Rows in a data table (customers, orders, reviews, datasets)."""
    return int(ws.scalar(f"SELECT count(*) FROM {quote_ident(table)}"))


def distinct_reviewers(ws: Workspace) -> int:
    """Distinct customer ids among the loaded reviews."""
    return int(ws.scalar("SELECT count(DISTINCT customer_id) FROM reviews") or 0)
