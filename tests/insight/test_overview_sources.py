"""Several sources with their own dates: deltas within each source's range, partial months marked."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from cx_core.insight.overview import format_kpi, overview_kpis, source_periods
from cx_core.insight.trends import activity_by_source, partial_months
from cx_core.plots.charts import activity_figure
from tests.drivers_fixtures import add_reviews, insert

ORDERS_END = datetime(2011, 12, 9, 12, 0)  # Online Retail ends mid-month
DAY = timedelta(days=1)


def _orders(ws, ts: list[datetime], amounts: list[float]) -> None:
    n = len(ts)
    insert(
        ws,
        "orders",
        pd.DataFrame(
            {
                "dataset_id": "o",
                "line_no": range(n),
                "order_id": [f"o{i}" for i in range(n)],
                "customer_id": [f"c{i % 7}" for i in range(n)],
                "ts": ts,
                "amount": amounts,
                "is_return": False,
            }
        ),
    )


def _disjoint(ws) -> None:
    """Orders 2010-12-01 .. 2011-12-09, reviews 2005-01-03 .. 2013-06-15, no shared customer."""
    days = [ORDERS_END - i * 7 * DAY for i in range(54)]
    _orders(ws, days, [100.0 + i for i in range(54)])
    rts = [datetime(2013, 6, 15) - i * 30 * DAY for i in range(104)]
    add_reviews(ws, rts, [4.0] * 100 + [1.0] * 4, [f"r{i}" for i in range(104)], [{}] * 104)


def test_deltas_within_each_sources_own_dates(ws):
    _disjoint(ws)
    sp = source_periods(ws)
    assert sp["orders"].anchor == ORDERS_END and sp["reviews"].anchor == datetime(2013, 6, 15)
    k = overview_kpis(ws)
    # revenue compares the orders' own last 90 days (not 2013, where there are none: no fake 0)
    assert k["revenue"].current > 0 and k["revenue"].previous > 0
    assert k["orders"].current == 13 and k["orders"].previous == 13
    assert "2011-12-09" in k["revenue"].period
    # reviews compare their own last 90 days
    assert k["reviews"].current == 3 and k["reviews"].previous == 3
    assert "2013-06-15" in k["reviews"].period


def test_no_delta_when_a_source_does_not_cover_both_periods(ws):
    _orders(ws, [ORDERS_END - i * DAY for i in range(100)], [10.0] * 100)  # 100 days < 2 × 90
    k = overview_kpis(ws)
    assert k["orders"].value == 100 and k["orders"].delta is None and k["revenue"].delta is None


def test_partial_first_and_last_months():
    months = pd.Series(pd.to_datetime(["2010-12-01", "2011-06-01", "2011-12-01"]))
    assert partial_months(months, datetime(2010, 12, 1, 8), ORDERS_END).tolist() == [False, False, True]
    assert partial_months(months, datetime(2010, 12, 5), datetime(2011, 12, 31, 18)).tolist() == [
        True,
        False,
        False,
    ]


def test_activity_by_source_no_fake_zeros_and_partial_marked(ws):
    _disjoint(ws)
    act = activity_by_source(ws)
    before_orders = act[act["month"] < "2010-11-01"]
    assert before_orders["revenue"].isna().all() and before_orders["reviews"].notna().any()
    last_order_month = act[act["month"] == "2011-12-01"].iloc[0]
    assert last_order_month["revenue_partial"] and last_order_month["revenue"] > 0
    assert act[act["month"] == "2013-06-01"].iloc[0]["reviews_partial"]
    assert not act[act["month"] == "2011-06-01"].iloc[0]["revenue_partial"]
    fig = activity_figure(act, "£").to_dict()
    bars = fig["data"][0]
    assert "partial month" in bars["customdata"] and min(bars["marker"]["opacity"]) < 1
    assert fig["layout"]["yaxis"]["title"]["text"] == "Revenue (£)"


def test_kpi_text_with_currency():
    assert format_kpi("revenue", 279489.02000000014, "£") == "£279,489"
    assert format_kpi("revenue", -1200.0, "£", signed=True) == "-£1,200"
    assert format_kpi("clv_total", 5.0, "$", signed=True) == "+$5"
    assert format_kpi("orders", 12, signed=True) == "+12"
    assert format_kpi("churn_risk_share", 0.51) == "51.0%"
    assert format_kpi("mean_sentiment", None) == "–"
