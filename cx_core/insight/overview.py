"""Headline KPIs of the loaded data, each with its change against the previous period.

The current period is the last ``days`` days up to the data's last timestamp (orders and
reviews); the previous period is the ``days`` days before that. Review sentiment comes from
the newest finished ``review_scores`` run, churn risk and CLV from the newest ``profiles`` run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from cx_core.customers.profiles import STAGE as PROFILES_STAGE
from cx_core.customers.text_profile import SCORES_STAGE
from cx_core.ingest.datasets import dataset_version
from cx_core.store.db import Workspace
from cx_core.store.runs import latest_id

#: Customers with ``churn_prob`` at or above this count as "at churn risk".
CHURN_RISK_AT = 0.5
PERIOD_DAYS = 90

#: headline KPIs: label and display format (the Overview page and the report show the same)
KPI_FORMATS = {
    "customers": ("Customers", "{:,.0f}"),
    "orders": ("Orders", "{:,.0f}"),
    "revenue": ("Revenue", "{:,.0f}"),
    "reviews": ("Reviews", "{:,.0f}"),
    "mean_rating": ("Mean rating", "{:.2f}"),
    "mean_sentiment": ("Mean sentiment", "{:+.2f}"),
    "churn_risk_share": ("At churn risk", "{:.1%}"),
    "clv_total": ("Predicted CLV (total)", "{:,.0f}"),
}


@dataclass(frozen=True)
class Kpi:
    """One headline number: its all-time value and its value in the current / previous period.

    ``current``/``previous`` are None for stock numbers with no history (CLV, churn share);
    ``value`` is None when the part it needs is not computed yet (then ``hint`` says where).
    """

    value: float | int | None
    current: float | int | None = None
    previous: float | int | None = None
    hint: str = ""

    @property
    def delta(self) -> float | None:
        """``current - previous`` when both are known."""
        if self.current is None or self.previous is None:
            return None
        return float(self.current) - float(self.previous)


@dataclass(frozen=True)
class Periods:
    """Current ``(cur_start, anchor]`` and previous ``(prev_start, cur_start]`` windows."""

    anchor: datetime | None
    days: int

    @property
    def cur_start(self) -> datetime | None:
        return None if self.anchor is None else self.anchor - timedelta(days=self.days)

    @property
    def prev_start(self) -> datetime | None:
        return None if self.anchor is None else self.anchor - timedelta(days=2 * self.days)


def periods(ws: Workspace, days: int = PERIOD_DAYS) -> Periods:
    """The two comparison windows anchored at the newest order or review timestamp."""
    if days <= 0:
        raise ValueError(f"the period must be a positive number of days, got {days}")
    anchor = ws.scalar("SELECT greatest((SELECT max(ts) FROM orders), (SELECT max(ts) FROM reviews))")
    return Periods(None if anchor is None else pd.Timestamp(anchor).to_pydatetime(), days)


# (window SQL) selects the previous (0) or current (1) period, NULL outside both.
_WIN = (
    "CASE WHEN ts > ?::TIMESTAMP AND ts <= ?::TIMESTAMP THEN 0 "
    "WHEN ts > ?::TIMESTAMP AND ts <= ?::TIMESTAMP THEN 1 END"
)


def _win_params(p: Periods) -> list:
    return [p.prev_start, p.cur_start, p.cur_start, p.anchor]


def _by_window(
    ws: Workspace, select: str, source: str, p: Periods, params: list | None = None
) -> dict[int, tuple]:
    """``{0: previous row, 1: current row}`` of ``select`` aggregated per window over ``source``."""
    rows = ws.execute(
        f"SELECT w, {select} FROM (SELECT *, {_WIN} AS w FROM {source}) WHERE w IS NOT NULL GROUP BY w",
        [*_win_params(p), *(params or [])],
    )
    return {int(r[0]): tuple(r[1:]) for r in rows}


def _pair(win: dict[int, tuple], i: int, empty: float | None) -> tuple:
    return (win.get(1, (empty,) * (i + 1))[i], win.get(0, (empty,) * (i + 1))[i])


def _activity_kpis(ws: Workspace, p: Periods) -> dict[str, Kpi]:
    tot = ws.query_one("SELECT count(DISTINCT order_id), coalesce(sum(amount), 0) FROM orders")
    rev = ws.query_one("SELECT count(*), avg(rating) FROM reviews")
    customers = ws.scalar(
        "SELECT count(*) FROM (SELECT customer_id FROM customers UNION "
        "SELECT customer_id FROM orders WHERE customer_id IS NOT NULL UNION "
        "SELECT customer_id FROM reviews WHERE customer_id IS NOT NULL)"
    )
    o = _by_window(ws, "count(DISTINCT order_id), coalesce(sum(amount), 0)", "orders", p)
    r = _by_window(ws, "count(*), avg(rating)", "reviews", p)
    c = _by_window(
        ws,
        "count(DISTINCT customer_id)",
        "(SELECT customer_id, ts FROM orders UNION ALL SELECT customer_id, ts FROM reviews "
        "WHERE customer_id IS NOT NULL)",
        p,
    )
    return {
        "customers": Kpi(customers, *_pair(c, 0, 0)),
        "orders": Kpi(tot[0], *_pair(o, 0, 0)),
        "revenue": Kpi(tot[1], *_pair(o, 1, 0.0)),
        "reviews": Kpi(rev[0], *_pair(r, 0, 0)),
        "mean_rating": Kpi(rev[1], *_pair(r, 1, None)),
    }


def _sentiment_kpi(ws: Workspace, p: Periods) -> Kpi:
    run = latest_id(ws, SCORES_STAGE)
    if run is None:
        return Kpi(None, hint="Score the reviews on the **Reviews** page to see sentiment.")
    src = (
        "(SELECT r.ts, s.sentiment_score FROM review_scores s JOIN reviews r "
        "USING (dataset_id, review_id) WHERE s.run_id = ?)"
    )
    total = ws.scalar(f"SELECT avg(sentiment_score) FROM {src}", [run])
    win = _by_window(ws, "avg(sentiment_score)", src, p, [run])
    return Kpi(total, *_pair(win, 0, None))


def _profile_kpis(ws: Workspace) -> dict[str, Kpi]:
    run = latest_id(ws, PROFILES_STAGE)
    if run is None:
        hint = "Compute customer profiles on the **Customers** page to see churn risk and CLV."
        return {"churn_risk_share": Kpi(None, hint=hint), "clv_total": Kpi(None, hint=hint)}
    share, clv = ws.query_one(
        "SELECT avg(CASE WHEN churn_prob >= ? THEN 1.0 WHEN churn_prob IS NOT NULL "
        "THEN 0.0 END), sum(clv) FROM customer_profiles WHERE run_id = ?",
        [CHURN_RISK_AT, run],
    )
    return {"churn_risk_share": Kpi(share), "clv_total": Kpi(clv)}


def overview_kpis(ws: Workspace, days: int = PERIOD_DAYS) -> dict[str, Kpi]:
    """Customers, orders, revenue, reviews, mean rating, mean sentiment, churn-risk share and
    total predicted CLV; flow numbers carry current vs previous ``days``-day period values."""
    p = periods(ws, days)
    out = _activity_kpis(ws, p)
    out["mean_sentiment"] = _sentiment_kpi(ws, p)
    out.update(_profile_kpis(ws))
    return out


def overview_version(ws: Workspace) -> str:
    """A cheap cache key: the dataset version plus the newest scoring and profiles run ids."""
    runs = [latest_id(ws, s) or "" for s in (SCORES_STAGE, PROFILES_STAGE)]
    return "|".join([dataset_version(ws), *runs])
