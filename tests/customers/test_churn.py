"""Churn model: labels, no look-ahead, known churners, baselines, settings and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from cx_core.customers.churn import (
    ChurnModel,
    ChurnSettings,
    default_horizon_days,
    evaluate_churn,
    evaluation_line,
    score_churn,
)
from cx_core.customers.churn_features import OrderHistory
from cx_core.customers.clv import NotFittedError

DAY0 = pd.Timestamp("2022-01-01")


def synthetic_orders(n: int = 400, days: int = 720, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Customers buying as Poisson processes; 40% stop for good at a known day.

    Returns the order lines and each customer's stop day (``days`` for those who never stop).
    """
    rng = np.random.default_rng(seed)
    rows, stop_days = [], {}
    for i in range(n):
        cid = f"c{i:04d}"
        start = int(rng.integers(0, min(250, days - 100)))
        stop = int(rng.integers(start + 60, days - 30)) if rng.random() < 0.4 else days
        rate = rng.gamma(2.0, 1 / 40)  # purchases per day, mean one per 20 days
        t, k = float(start), 0
        while t < stop:
            rows.append((cid, f"{cid}-{k}", DAY0 + pd.Timedelta(days=t), float(rng.gamma(2, 20)), False))
            t += rng.exponential(1 / rate)
            k += 1
        stop_days[cid] = stop
    orders = pd.DataFrame(rows, columns=["customer_id", "order_id", "ts", "amount", "is_return"])
    return orders, pd.Series(stop_days)


@pytest.fixture(scope="module")
def synthetic() -> tuple[pd.DataFrame, pd.Series]:
    return synthetic_orders()


def test_default_horizon_from_span():
    assert default_horizon_days(373) == 90 and default_horizon_days(365) == 90
    assert default_horizon_days(200) == 50 and default_horizon_days(10) == 7


def test_labels_hand_checked():
    orders = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b", "c", "d"],
            "ts": pd.to_datetime(
                ["2020-01-01", "2020-01-20", "2020-01-05", "2020-02-15", "2020-01-10", "2020-03-01"]
            ),
            "amount": [10.0, 5.0, 7.0, 3.0, 4.0, 1.0],
            "is_return": [False, False, False, True, False, False],
        }
    )
    h = OrderHistory(orders)
    y = h.labels(h.day("2020-01-10"), 30)  # window 11 Jan .. 9 Feb
    assert y.to_dict() == {"a": False, "b": True, "c": True}  # b's 15 Feb line is a return, and late
    with pytest.raises(ValueError, match="runs past"):
        h.labels(h.day("2020-02-15"), 30)


def test_features_never_use_data_after_the_cutoff(synthetic):
    orders, _ = synthetic
    cut = DAY0 + pd.Timedelta(days=400)
    full, early = OrderHistory(orders), OrderHistory(orders[orders["ts"] < cut + pd.Timedelta(days=1)])
    day = full.day(cut)
    a = full.features(day, 90)
    b = early.features(day, 90)
    pd.testing.assert_frame_equal(a, b)
    # a model fitted at the cutoff scores the same with or without the later lines
    pa = ChurnModel(90).fit(full, cut).predict_proba(full, cut)
    pb = ChurnModel(90).fit(early, cut).predict_proba(early, cut)
    pd.testing.assert_series_equal(pa, pb)
    # and the training cutoffs' label windows end by the cutoff
    m = ChurnModel(90, n_cutoffs=3).fit(full, cut)
    assert all(pd.Timestamp(c) + pd.Timedelta(days=90) <= cut for c in m.train_cutoffs_)


def test_known_churners_score_high(synthetic):
    orders, stop = synthetic
    last = DAY0 + pd.Timedelta(days=600)
    seen = orders[orders["ts"] < last]
    res = score_churn(OrderHistory(seen))
    p = res.scores
    known_gone = (stop.reindex(p.index) < 600 - 10).to_numpy()  # stopped before the data ends
    assert roc_auc_score(known_gone, p.to_numpy()) > 0.85
    # against what really happened in the next 90 days (the lines we held back)
    later = orders[(orders["ts"] >= last) & (orders["ts"] < last + pd.Timedelta(days=90))]
    churned = ~p.index.isin(later["customer_id"])
    assert roc_auc_score(churned, p.to_numpy()) > 0.8
    ev = res.metrics["evaluation"]
    assert ev["model"]["auc"] > ev["baseline_bgnbd_1_minus_p_alive"]["auc"]
    assert res.metrics["horizon_days"] == 90 and "90 days after the data ends" in res.window
    assert ((p >= 0) & (p <= 1)).all()


def test_blend_weights(synthetic):
    orders, _ = synthetic
    h = OrderHistory(orders)
    m = ChurnModel(90).fit(h)
    x = m.features(h)
    np.testing.assert_allclose(m.predict_proba(h, blend=1.0), x["bg_p_no_purchase"])
    both = m.predict_proba(h)
    alone = m.predict_proba(h, blend=0.0)
    np.testing.assert_allclose(both, 0.5 * alone + 0.5 * x["bg_p_no_purchase"])
    assert "averaged 50%/50%" in m.describe()


def test_hgb_method_and_missing_features(synthetic):
    orders, _ = synthetic
    h = OrderHistory(orders)
    signals = pd.DataFrame(
        {
            "customer_id": ["c0001"],
            "ts": [pd.NaT],
            "rating": [np.nan],
            "scored": [False],
            "sentiment_score": [np.nan],
            "negative": [np.nan],
            "complaint": [np.nan],
            "praise": [np.nan],
            "risk": [np.nan],
            "risk_signal": [np.nan],
            "complaint_aspects": [[]],
            "praise_aspects": [[]],
        }
    )
    m = ChurnModel(90, method="hgb").fit(h, None, signals)  # text columns are all missing
    assert m.uses_text_ and "mean_sentiment" not in m.feature_names_
    assert m.predict_proba(h, None, signals).between(0, 1).all()


def test_clear_errors():
    with pytest.raises(NotFittedError):
        ChurnModel().predict_proba(synthetic_orders(50, 200)[0])
    with pytest.raises(ValueError, match="unknown churn method"):
        ChurnModel(method="forest").fit(synthetic_orders(50, 200)[0])
    short = synthetic_orders(30, 200)[0]
    short = short[short["ts"] < DAY0 + pd.Timedelta(days=20)]
    with pytest.raises(ValueError, match="at least 28 days"):
        score_churn(OrderHistory(short))
    with pytest.raises(ValueError, match="No purchases"):
        OrderHistory(pd.DataFrame({"customer_id": ["a"], "ts": [DAY0], "amount": [-5.0]}))
    everyone_stays = pd.DataFrame(
        [(f"c{i}", DAY0 + pd.Timedelta(days=d), 10.0) for i in range(30) for d in range(0, 200, 3)],
        columns=["customer_id", "ts", "amount"],
    )
    with pytest.raises(ValueError, match="same outcome"):
        ChurnModel(30).fit(everyone_stays)


def test_evaluation_reports_baselines_on_the_same_customers(synthetic):
    orders, _ = synthetic
    h = OrderHistory(orders)
    ev = evaluate_churn(h, ChurnSettings(horizon_days=60))
    assert ev["horizon_days"] == 60
    assert ev["eval_cutoff"] == h.date(h.last_day - 60)
    assert set(ev) >= {
        "model",
        "classifier_alone",
        "baseline_bgnbd_1_minus_p_alive",
        "baseline_bgnbd_p_no_purchase",
        "baseline_recency_days",
    }
    line = evaluation_line({"evaluation": ev, "window": "x"})
    assert "AUC" in line and "P(no purchase)" in line
    assert "recompute" in evaluation_line({})


@pytest.mark.slow
def test_online_retail_beats_bgnbd_baselines():
    from tests.customers.test_clv import _online_retail_orders

    ev = evaluate_churn(OrderHistory(_online_retail_orders()))
    assert ev["horizon_days"] == 90 and ev["eval_cutoff"] == "2011-09-10"
    ours = ev["model"]["auc"]
    assert ours > ev["baseline_bgnbd_1_minus_p_alive"]["auc"] + 0.2
    assert ours > ev["baseline_bgnbd_p_no_purchase"]["auc"]
    assert ev["model"]["brier"] < ev["baseline_bgnbd_p_no_purchase"]["brier"]


def test_cli_churn_and_customer(tmp_path, capsys, synthetic):
    import json

    from cx_core.cli.main import main
    from cx_core.config import load_config
    from cx_core.store.db import Workspace

    db = str(tmp_path / "ws.duckdb")
    ws = Workspace.open(load_config(env={}, db__path=db).db)
    orders, _ = synthetic
    frame = orders.assign(dataset_id="ds", line_no=range(len(orders)))
    with ws.write() as cur:
        cur.register("_o", frame)
        cur.execute("INSERT INTO orders BY NAME SELECT * FROM _o")
    ws.close()
    assert main(["--db", db, "churn", "--no-save", "--horizon-days", "60"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["horizon_days"] == 60 and report["model"]["auc"] > 0.7
    assert main(["--db", db, "customer", "c0001"]) == 2  # no profile run yet
    assert main(["--db", db, "churn", "--method", "hgb"]) == 0
    saved = json.loads(capsys.readouterr().out)
    assert saved["run_id"].startswith("run_") and "gradient-boosted" in saved["method"]
    assert main(["--db", db, "customer", "c0001"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert 0 <= one["churn_prob"] <= 1 and one["churn_window"].startswith("no purchase")
