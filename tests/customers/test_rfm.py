"""Tests for cx_core.customers.rfm: hand-checked features, cutoff and return handling, scores, CDNOW."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cx_core.customers.clv import BetaGeoModel
from cx_core.customers.rfm import (
    RFM_SEGMENT_RULES,
    SUMMARY_COLUMNS,
    calibration_holdout,
    rfm_scores,
    rfm_summary,
)
from tests.conftest import shared


def tiny_orders() -> pd.DataFrame:
    """Three customers; every number in the tests below is worked out by hand from this.

    a: buys twice on 1 Jan (09:00 and 15:00, one purchase day), on 8 Jan, returns 8.0 on
       15 Jan, buys again on 1 Feb (after the 31 Jan cutoff).
    b: buys on 10 Jan, returns it on 12 Jan (return flagged with a positive amount).
    c: buys on 5 Jan and on 1 Mar (after the cutoff).
    d: only a return (negative amount, no flag) - never a purchaser.
    """
    return pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "a", "b", "b", "c", "c", "d"],
            "ts": pd.to_datetime(
                [
                    "2020-01-01 09:00",
                    "2020-01-01 15:00",
                    "2020-01-08 10:00",
                    "2020-01-15 10:00",
                    "2020-02-01 10:00",
                    "2020-01-10 10:00",
                    "2020-01-12 10:00",
                    "2020-01-05 23:59",
                    "2020-03-01 10:00",
                    "2020-01-20 10:00",
                ]
            ),
            "amount": [10.0, 5.0, 20.0, -8.0, 30.0, 7.0, 7.0, 4.0, 100.0, -3.0],
            "is_return": [False, False, False, True, False, False, True, False, False, False],
            "order_id": ["o1", "o2", "o3", "r1", "o5", "o6", "r2", "o7", "o8", "r3"],
        }
    )


def test_rfm_summary_hand_checked_days() -> None:
    s = rfm_summary(tiny_orders(), cutoff="2020-01-31", freq="D")
    assert list(s.columns) == list(SUMMARY_COLUMNS)
    assert list(s.index) == ["a", "b", "c"]  # d made no purchase
    a, b, c = s.loc["a"], s.loc["b"], s.loc["c"]
    # a: purchase days 1 Jan (10 + 5) and 8 Jan (20); the 1 Feb order is after the cutoff
    assert a["frequency"] == 1 and a["recency"] == 7 and a["T"] == 30
    assert a["monetary_value"] == 12.0  # net: the 8.0 returned on 15 Jan comes off the 8 Jan spend
    gross = rfm_summary(tiny_orders(), cutoff="2020-01-31", freq="D", monetary="gross")
    assert gross.loc["a", "monetary_value"] == 20.0
    assert gross.drop(columns="monetary_value").equals(s.drop(columns="monetary_value"))
    assert a["recency_days"] == 23 and a["tenure_days"] == 30
    assert a["n_orders"] == 3  # o1, o2, o3; the return r1 is not an order
    assert a["revenue"] == pytest.approx(10 + 5 + 20 - 8)
    assert a["aov"] == pytest.approx(27 / 3)
    assert a["mean_interpurchase_days"] == 7
    assert a["return_rate"] == pytest.approx(1 / 4)
    assert a["first_purchase"] == pd.Timestamp("2020-01-01")
    assert a["last_purchase"] == pd.Timestamp("2020-01-08")
    # b: one purchase, fully returned (flagged return with a positive amount)
    assert b["frequency"] == 0 and b["recency"] == 0 and b["T"] == 21
    assert b["monetary_value"] == 0 and b["revenue"] == 0 and b["return_rate"] == 0.5
    assert np.isnan(b["mean_interpurchase_days"])
    # c: 23:59 on 5 Jan is still 5 Jan
    assert c["T"] == 26 and c["recency_days"] == 26 and c["revenue"] == 4.0


def test_rfm_summary_weeks_and_default_cutoff() -> None:
    days = rfm_summary(tiny_orders(), cutoff="2020-01-31", freq="D")
    weeks = rfm_summary(tiny_orders(), cutoff="2020-01-31", freq="W")
    np.testing.assert_allclose(weeks["T"], days["T"] / 7)
    np.testing.assert_allclose(weeks["recency"], days["recency"] / 7)
    pd.testing.assert_series_equal(weeks["frequency"], days["frequency"])
    full = rfm_summary(tiny_orders(), freq="D")  # cutoff = last day, 1 Mar
    assert full.loc["a", "frequency"] == 2 and full.loc["a", "T"] == 60
    assert full.loc["c", "monetary_value"] == 100.0


def test_rows_after_cutoff_are_ignored() -> None:
    base = rfm_summary(tiny_orders(), cutoff="2020-01-31")
    late = pd.DataFrame(
        {
            "customer_id": ["a", "e"],
            "ts": pd.to_datetime(["2020-02-01", "2021-01-01"]),
            "amount": [1e6, 5.0],
            "is_return": [False, False],
            "order_id": ["x", "y"],
        }
    )
    more = rfm_summary(pd.concat([tiny_orders(), late], ignore_index=True), cutoff="2020-01-31")
    pd.testing.assert_frame_equal(base, more)


def test_optional_columns_and_validation() -> None:
    o = tiny_orders().drop(columns=["is_return", "order_id"])
    s = rfm_summary(o, cutoff="2020-01-31", freq="D")
    assert s.loc["b", "revenue"] == 14.0  # without the flag only negative amounts are returns
    assert "d" not in s.index
    o["customer_id"] = o["customer_id"].map({"a": 17850.0, "b": 12.0, "c": 3.0, "d": 4.0})  # float ids
    assert list(rfm_summary(o, cutoff="2020-01-31").index) == ["17850", "12", "3"]
    with pytest.raises(ValueError, match="amount"):
        rfm_summary(o.drop(columns=["amount"]))
    with pytest.raises(ValueError, match="freq"):
        rfm_summary(o, freq="M")  # type: ignore[arg-type]


def test_calibration_holdout_hand_checked() -> None:
    cal, hold = calibration_holdout(tiny_orders(), "2020-01-20", "2020-03-01", freq="D")
    assert list(hold.index) == list(cal.index) == ["a", "b", "c"]
    assert cal.loc["a", "T"] == 19 and cal.loc["a", "frequency"] == 1
    assert hold["n_purchases_holdout"].tolist() == [1, 0, 1]
    assert hold["spend_holdout"].tolist() == [30.0, 0.0, 100.0]
    assert hold["purchased_holdout"].tolist() == [True, False, True]
    assert (hold["duration_holdout"] == 41).all()
    with pytest.raises(ValueError):
        calibration_holdout(tiny_orders(), "2020-02-01", "2020-01-01")


def test_rfm_scores_quintiles_ties_and_segments() -> None:
    rng = np.random.default_rng(0)
    n = 1000
    summary = pd.DataFrame(
        {
            "recency_days": rng.integers(0, 365, n),
            "n_orders": rng.geometric(0.4, n),
            "revenue": rng.gamma(2.0, 50.0, n),
        },
        index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"),
    )
    sc = rfm_scores(summary)
    assert sc[["R", "F", "M"]].isin(range(1, 6)).all().all()
    assert sc["M"].value_counts().tolist() == [200] * 5  # no ties: exact quintiles
    for col, score in (("n_orders", "F"), ("recency_days", "R")):
        assert sc.groupby(summary[col])[score].nunique().max() == 1  # ties share a score
    best = summary["recency_days"].idxmin()
    assert sc.loc[best, "R"] == 5
    assert set(sc["segment"]) <= {rule[0] for rule in RFM_SEGMENT_RULES}
    champ = sc[(sc.R == 5) & (sc.F >= 4)]
    assert (champ["segment"] == "Champions").all()
    assert (sc[(sc.R <= 2) & (sc.F <= 2)]["segment"] == "Hibernating").all()
    assert sc.loc[best, "rfm"] == f"{sc.loc[best, 'R']}{sc.loc[best, 'F']}{sc.loc[best, 'M']}"


def test_segment_rules_cover_grid() -> None:
    cells = {(r, f) for _, rs, fs, _ in RFM_SEGMENT_RULES for r in rs for f in fs}
    assert cells == {(r, f) for r in range(1, 6) for f in range(1, 6)}


def _cdnow_orders() -> pd.DataFrame:
    """The CDNOW master file as an orders frame."""
    m = pd.read_csv(shared("cdnow/CDNOW_master.txt"), sep=r"\s+", dtype={"customer_id": str, "date": str})
    return pd.DataFrame(
        {
            "customer_id": m["customer_id"],
            "ts": pd.to_datetime(m["date"], format="%Y%m%d"),
            "amount": m["dollar_value"],
            "is_return": False,
            "order_id": m.index.astype(str),
        }
    )


def _round2(v: pd.Series) -> np.ndarray:
    """Round half up to cents, as the published summary files do."""
    return np.floor(v.to_numpy() * 100 + 0.5 + 1e-9) / 100


def test_cdnow_master_matches_published_summary_and_fit() -> None:
    cal = rfm_summary(_cdnow_orders(), cutoff="1997-09-30", freq="W")
    assert len(cal) == 23570
    assert cal["T"].max() == pytest.approx(272 / 7)  # first buyers on 1 Jan 1997
    # every row of the published 1/10 sample summary appears in our summary of the master file
    ours = pd.DataFrame(
        {
            "x": cal["frequency"].to_numpy().astype(int),
            "t_x": _round2(cal["recency"]),
            "T": _round2(cal["T"]),
            "zbar": _round2(cal["monetary_value"]),
        }
    )
    pub = pd.read_csv(shared("cdnow/cdnow_customers_summary_with_transactions.csv"))
    counts = (
        pub[["x", "t_x", "T", "zbar"]]
        .value_counts()
        .to_frame("n_pub")
        .join(ours.value_counts().rename("n_ours"), how="left")
        .fillna(0)
    )
    assert (counts["n_ours"] >= counts["n_pub"]).all()
    # the full cohort fits close to the published 1/10-sample parameters
    fit = BetaGeoModel().fit(cal["frequency"], cal["recency"], cal["T"]).params_
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for k, v in published.items():
        assert fit[k] == pytest.approx(v, rel=0.2), (k, fit[k])


def test_net_monetary_value_ignores_returns_on_the_first_day_and_floors_at_zero() -> None:
    o = pd.DataFrame(
        {
            "customer_id": ["x"] * 4 + ["y"] * 3,
            "ts": pd.to_datetime(
                [
                    "2020-01-01",
                    "2020-01-01",
                    "2020-01-05",
                    "2020-01-06",
                    "2020-01-01",
                    "2020-01-09",
                    "2020-01-09",
                ]
            ),
            "amount": [50.0, -50.0, 30.0, -100.0, 10.0, 5000.0, -5000.0],
            "is_return": [False, True, False, True, False, False, True],
        }
    )
    s = rfm_summary(o, cutoff="2020-01-10", freq="D")
    # x: the first-day return nets against the (excluded) first purchase; the later one floors at 0
    assert s.loc["x", "monetary_value"] == 0.0
    # y: a 5,000 order cancelled the same day (Online Retail customer 16446's pattern)
    assert s.loc["y", "monetary_value"] == 0.0
    assert (
        rfm_summary(o, cutoff="2020-01-10", freq="D", monetary="gross").loc["y", "monetary_value"] == 5000.0
    )
    with pytest.raises(ValueError, match="monetary"):
        rfm_summary(o, monetary="list")  # type: ignore[arg-type]
