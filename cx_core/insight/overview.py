"""Headline KPIs of the loaded data, each with its change against the previous period.

Each dated source is compared within its own dates: the current period is the last ``days``
days up to that source's newest timestamp (revenue and orders on order dates, reviews, rating
and sentiment on review dates), the previous period the ``days`` days before; no delta when the
source does not reach back over both periods. Review sentiment comes from
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

#: headline KPIs: label and display format (the Overview page and the report show the same);
#: money KPIs get the currency symbol through :func:`format_kpi`
KPI_FORMATS = {
    "customers": ("Customers", "{:,.0f}"),
    "orders": ("Orders", "{:,.0f}"),
    "revenue": ("Revenue", "{:,.0f}"),
    "reviews": ("Reviews", "{:,.0f}"),
    "mean_rating": ("Avg rating", "{:.2f}"),
    "mean_sentiment": ("Avg sentiment (−1 to +1)", "{:+.2f}"),
    "churn_risk_share": ("Likely to churn", "{:.1%}"),
    "clv_total": ("Predicted lifetime value (total)", "{:,.0f}"),
}
MONEY_KPIS = ("revenue", "clv_total")


def format_kpi(key: str, value: float | int | None, currency: str = "", signed: bool = False) -> str:
    """A KPI value (or, ``signed``, a change) as text: "£279,489", "+12", "51.0%"; "–" when missing."""
    if value is None:
        return "–"
    fmt = KPI_FORMATS[key][1]
    if key in MONEY_KPIS:
        sign = ("+" if value >= 0 else "-") if signed else ("-" if value < 0 else "")
        return f"{sign}{currency}{fmt.format(abs(value))}"
    if signed and not fmt.startswith("{:+"):
        fmt = fmt.replace("{:", "{:+", 1)
    return fmt.format(value)


@dataclass(frozen=True)
class Kpi:
    """One headline number: its all-time value and its value in the current / previous period.

    ``current``/``previous`` are None for stock numbers with no history (CLV, churn share);
    ``value`` is None when the part it needs is not computed yet (then ``hint`` says where).
    ``period`` names the windows compared (each source within its own dates); no delta when the
    source's data does not cover both windows (a partial window would look like a collapse).
    """

    value: float | int | None
    current: float | int | None = None
    previous: float | int | None = None
    period: str = ""  # the windows compared, e.g. "2011-09-10 → 2011-12-09 vs the 90 days before"
    hint: str = ""

    @property
    def delta(self) -> float | None:
        """``current - previous`` when both are known."""
        if self.current is None or self.previous is None:
            return None
        return float(self.current) - float(self.previous)


@dataclass(frozen=True)
class Periods:
    """Current ``(cur_start, anchor]`` and previous ``(prev_start, cur_start]`` windows.

    ``first`` is the oldest timestamp of the data the windows are for (None: unknown); the
    comparison is ``complete`` only when that data covers the whole previous window.
    """

    anchor: datetime | None
    days: int
    first: datetime | None = None

    @property
    def cur_start(self) -> datetime | None:
        return None if self.anchor is None else self.anchor - timedelta(days=self.days)

    @property
    def prev_start(self) -> datetime | None:
        return None if self.anchor is None else self.anchor - timedelta(days=2 * self.days)

    @property
    def complete(self) -> bool:
        """Whether the data reaches back over the whole previous window (else no fair delta)."""
        return self.anchor is not None and (self.first is None or self.first <= self.prev_start)

    def describe(self) -> str:
        """ "2011-09-10 → 2011-12-09 vs the 90 days before" ("" without data)."""
        if self.anchor is None:
            return ""
        return f"{self.cur_start:%Y-%m-%d} → {self.anchor:%Y-%m-%d} vs the {self.days} days before"


def _ts(value: object) -> datetime | None:
    return None if value is None else pd.Timestamp(value).to_pydatetime()


def periods(ws: Workspace, days: int = PERIOD_DAYS) -> Periods:
    """The two comparison windows anchored at the newest order or review timestamp."""
    if days <= 0:
        raise ValueError(f"the period must be a positive number of days, got {days}")
    anchor = ws.scalar("SELECT greatest((SELECT max(ts) FROM orders), (SELECT max(ts) FROM reviews))")
    return Periods(_ts(anchor), days)


#: the dated sources whose deltas are computed within their own date range
SOURCES = ("orders", "reviews")


def source_periods(ws: Workspace, days: int = PERIOD_DAYS) -> dict[str, Periods]:
    """Per source (orders, reviews): the two windows anchored at that source's own newest date,
    so a source that ends earlier is not compared over months it never covered."""
    if days <= 0:
        raise ValueError(f"the period must be a positive number of days, got {days}")
    out = {}
    for table in SOURCES:  # fixed table names, not user input
        first, last = ws.query_one(f"SELECT min(ts), max(ts) FROM {table}")
        out[table] = Periods(_ts(last), days, _ts(first))
    return out


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


def _pair(win: dict[int, tuple], i: int, empty: float | None, p: Periods) -> tuple:
    """(current, previous, period text) of column ``i``; no pair when the data does not cover both."""
    if not p.complete:
        return (None, None, "")
    return (win.get(1, (empty,) * (i + 1))[i], win.get(0, (empty,) * (i + 1))[i], p.describe())


def _active_customers(ws: Workspace, sp: dict[str, Periods]) -> dict[int, tuple]:
    """Distinct customers per window: order customers in the orders' windows, reviewers in the reviews'."""
    o, r = sp["orders"], sp["reviews"]
    rows = ws.execute(
        f"SELECT w, count(DISTINCT customer_id) FROM ("
        f"SELECT customer_id, {_WIN} AS w FROM orders UNION ALL "
        f"SELECT customer_id, {_WIN} AS w FROM reviews WHERE customer_id IS NOT NULL) "
        "WHERE w IS NOT NULL GROUP BY w",
        [*_win_params(o), *_win_params(r)],
    )
    return {int(row[0]): tuple(row[1:]) for row in rows}


def _customer_periods(sp: dict[str, Periods]) -> Periods:
    """The customers KPI compares fairly only when every dated source covers both windows."""
    dated = [p for p in sp.values() if p.anchor is not None]
    if not dated or not all(p.complete for p in dated):
        return Periods(None, PERIOD_DAYS)
    return dated[0] if len(dated) == 1 else max(dated, key=lambda p: p.anchor)


def _activity_kpis(ws: Workspace, sp: dict[str, Periods]) -> dict[str, Kpi]:
    tot = ws.query_one("SELECT count(DISTINCT order_id), coalesce(sum(amount), 0) FROM orders")
    rev = ws.query_one("SELECT count(*), avg(rating) FROM reviews")
    customers = ws.scalar(
        "SELECT count(*) FROM (SELECT customer_id FROM customers UNION "
        "SELECT customer_id FROM orders WHERE customer_id IS NOT NULL UNION "
        "SELECT customer_id FROM reviews WHERE customer_id IS NOT NULL)"
    )
    po, pr = sp["orders"], sp["reviews"]
    o = _by_window(ws, "count(DISTINCT order_id), coalesce(sum(amount), 0)", "orders", po)
    r = _by_window(ws, "count(*), avg(rating)", "reviews", pr)
    c = _active_customers(ws, sp)
    pc = _customer_periods(sp)
    both = len([p for p in sp.values() if p.anchor is not None]) > 1
    pc_text = "each source's own last period" if both else pc.describe()
    cur, prev, _ = _pair(c, 0, 0, pc)
    return {
        "customers": Kpi(customers, cur, prev, period=pc_text if cur is not None else ""),
        "orders": Kpi(tot[0], *_pair(o, 0, 0, po)),
        "revenue": Kpi(tot[1], *_pair(o, 1, 0.0, po)),
        "reviews": Kpi(rev[0], *_pair(r, 0, 0, pr)),
        "mean_rating": Kpi(rev[1], *_pair(r, 1, None, pr)),
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
    return Kpi(total, *_pair(win, 0, None, p))


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
    total predicted CLV; flow numbers carry current vs previous ``days``-day period values, each
    source within its own dates (revenue on order dates, reviews on review dates)."""
    sp = source_periods(ws, days)
    out = _activity_kpis(ws, sp)
    out["mean_sentiment"] = _sentiment_kpi(ws, sp["reviews"])
    out.update(_profile_kpis(ws))
    return out


def overview_version(ws: Workspace) -> str:
    """A cheap cache key: the dataset version plus the newest scoring and profiles run ids."""
    runs = [latest_id(ws, s) or "" for s in (SCORES_STAGE, PROFILES_STAGE)]
    return "|".join([dataset_version(ws), *runs])
