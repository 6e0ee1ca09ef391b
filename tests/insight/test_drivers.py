"""Overview KPIs with period deltas and the aspect driver analysis on synthetic workspaces."""

from __future__ import annotations

import math
from datetime import timedelta

import pandas as pd
import pytest

from cx_core.insight.drivers import aspect_drivers, drivers_from_frame, ols_coefficients
from cx_core.insight.overview import overview_kpis
from cx_core.insight.stats import two_proportion_p
from cx_core.insight.trends import monthly_trends
from cx_core.plots.charts import drivers_figure, trends_figure
from tests.drivers_fixtures import ANCHOR, add_profiles, add_reviews, insert, later_order, planted


def _tiny() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ts": [ANCHOR - timedelta(days=d) for d in (1, 2, 100, 101)],
            "rating": [2.0, 2.0, 4.0, 4.0],
            "sentiment_score": [-0.5, -0.5, 0.5, 0.5],
            "aspects": [["A"], ["A"], ["A"], []],
            "aspect_sentiment_json": ['{"A": -0.9}', '{"A": -0.5}', '{"A": 0.1}', None],
            "churn_prob": [0.8, 0.8, 0.2, 0.2],
        }
    )


def test_counterfactual_by_hand():
    d = drivers_from_frame(_tiny(), ANCHOR, 90).set_index("aspect").loc["A"]
    # rating = 4 - 2 * neg_A exactly: coef -2, half the reviews negative -> mean 3 would become 4
    assert d["coef_negative"] == pytest.approx(-2.0)
    assert d["rating_gain"] == pytest.approx(1.0)
    assert d["mentions"] == 3 and d["negative_mentions"] == 2
    assert d["negative_share"] == pytest.approx(2 / 3)
    assert d["churn_coef_negative"] == pytest.approx(0.6) and d["churn_gain"] == pytest.approx(0.3)
    # 2/2 negative recently vs 0/1 before: too few mentions to call a trend
    assert d["negative_share_recent"] == 1.0 and d["negative_share_previous"] == 0.0
    assert d["trend"] == "stable" and d["trend_p"] >= 0.05


def test_ols_and_z_test():
    x = pd.DataFrame({"a": [1, 0, 1, 0, 1, 0], "b": [0, 0, 0, 0, 0, 0]}).to_numpy(float)
    y = 3.0 + 1.5 * x[:, 0]
    assert ols_coefficients(y, x) == pytest.approx([1.5, 0.0])
    p = two_proportion_p(30, 50, 10, 50)  # pooled 0.4, z = 0.4 / sqrt(0.24 * 0.04)
    assert p == pytest.approx(math.erfc(0.4 / math.sqrt(0.24 * 0.04) / math.sqrt(2)))
    assert p < 0.001 and two_proportion_p(5, 10, 5, 10) == pytest.approx(1.0)
    assert two_proportion_p(0, 0, 3, 4) == 1.0


def test_planted_aspect_ranks_first(ws):
    planted(ws)
    d = aspect_drivers(ws)
    assert list(d["aspect"][:2]) == ["delivery", "price"]
    top = d.iloc[0]
    assert top["coef_negative"] == pytest.approx(-2.0, abs=0.15)
    assert top["churn_coef_negative"] == pytest.approx(0.6, abs=0.01) and top["churn_gain"] > 0.05
    assert top["trend"] == "worse" and top["trend_p"] < 0.05
    pack = d.set_index("aspect").loc["packaging"]
    assert abs(pack["coef_negative"]) < 0.15 and pack["trend"] == "stable"
    fig = drivers_figure(d).to_dict()
    assert list(fig["data"][0]["y"])[-1] == "delivery"  # top bar = first to fix
    trends = monthly_trends(ws)
    assert trends["reviews"].sum() == 400 and trends["churn_risk"].notna().all()
    names = [t["name"] for t in trends_figure(trends).to_dict()["data"]]
    assert names == ["Aspect mentions", "Negative mentions", "Mean sentiment", "Churn risk"]


def test_trend_windows_end_at_the_newest_review_not_the_newest_order(ws):
    planted(ws)
    later_order(ws)  # orders run on 200 days past the reviews: the review trend must not vanish
    top = aspect_drivers(ws).set_index("aspect").loc["delivery"]
    assert top["trend"] == "worse" and top["negative_share_recent"] > 0.5


def test_kpis_with_period_deltas(ws):
    day = timedelta(days=1)
    ts = [ANCHOR, ANCHOR - 10 * day, ANCHOR - 100 * day, ANCHOR - 300 * day]
    insert(
        ws,
        "orders",
        pd.DataFrame(
            {
                "dataset_id": "o",
                "line_no": range(4),
                "order_id": ["o1", "o2", "o3", "o4"],
                "customer_id": ["a", "b", "a", "c"],
                "ts": ts,
                "amount": [10.0, 20.0, 5.0, 1.0],
                "is_return": False,
            }
        ),
    )
    add_reviews(  # reviews reach back over both periods (else no delta: a partial period)
        ws,
        [ANCHOR - 5 * day, ANCHOR - 95 * day, ANCHOR - 300 * day],
        [5.0, 3.0, 4.0],
        ["a", "b", "c"],
        [{"x": 0.5}, {"x": -0.5}, {}],
    )
    k = overview_kpis(ws)
    assert k["customers"].value == 3 and (k["customers"].current, k["customers"].previous) == (2, 2)
    assert (k["orders"].value, k["orders"].current, k["orders"].previous) == (4, 2, 1)
    assert (k["revenue"].current, k["revenue"].previous, k["revenue"].delta) == (30.0, 5.0, 25.0)
    assert (k["mean_rating"].value, k["mean_rating"].delta) == (4.0, 2.0)
    assert k["mean_sentiment"].value == pytest.approx(0.0) and k["mean_sentiment"].delta == 1.0
    assert k["churn_risk_share"].value is None and "Customers" in k["churn_risk_share"].hint
    add_profiles(ws, {"a": 0.7, "b": 0.1, "c": 0.5, "d": 0.2}, {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0})
    k = overview_kpis(ws)
    assert k["churn_risk_share"].value == 0.5 and k["churn_risk_share"].delta is None
    assert k["clv_total"].value == 10.0


def test_empty_and_unscored(ws):
    k = overview_kpis(ws)
    assert k["orders"].value == 0 and k["orders"].delta is None  # no data, no change
    assert k["mean_sentiment"].value is None and "Reviews" in k["mean_sentiment"].hint
    assert aspect_drivers(ws).empty and monthly_trends(ws).empty
    add_reviews(ws, [ANCHOR], [4.0], ["a"], [{}], run_id=None)
    assert aspect_drivers(ws).empty
    assert list(drivers_figure(aspect_drivers(ws)).to_dict()["data"]) == []
    with pytest.raises(ValueError, match="positive"):
        overview_kpis(ws, days=0)
