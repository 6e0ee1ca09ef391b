"""Customer profiles from the workspace: RFM, BG/NBD, Gamma-Gamma, persisted per run."""

import pandas as pd
import pytest

from cx_core.customers.profiles import (
    ProfileSettings,
    build_profiles,
    compute_profiles,
    customer_detail,
    load_profiles,
)
from cx_core.ingest.load import load_file
from cx_core.store import runs
from tests.conftest import shared


def test_online_retail_profiles_persist(ws):
    load_file(ws, shared("online_retail/online_retail.parquet"), "orders")
    res = build_profiles(ws, ProfileSettings(horizon_weeks=26))
    assert len(res.profiles) == ws.scalar(
        "SELECT count(DISTINCT customer_id) FROM orders WHERE NOT is_return AND customer_id IS NOT NULL"
    )
    found = runs.latest(ws, "profiles")
    run_id, metrics = found.run_id, found.metrics
    assert run_id == res.run_id and metrics["window_end"] == "2011-12-09"
    stored = load_profiles(ws, run_id)
    assert len(stored) == len(res.profiles)
    assert stored["p_alive"].between(0, 1).all() and (stored["clv"] >= 0).all()
    assert set(stored["rfm_segment"]) >= {"Champions"}
    d = customer_detail(ws, stored["customer_id"].iloc[0])
    assert len(d["orders"]) > 0
    # churn scores for everyone, with method and window; the hold-out check is in the metrics
    assert stored["churn_prob"].between(0, 1).all()
    assert (
        stored["churn_window"] == "no purchase 2011-12-10 .. 2012-03-08 (90 days after the data ends)"
    ).all()
    ev = metrics["churn"]["evaluation"]
    assert ev["model"]["auc"] > ev["baseline_bgnbd_p_no_purchase"]["auc"]
    # net monetary value: the 80,995-unit order cancelled the same day no longer makes a top CLV
    c16446 = stored.set_index("customer_id").loc["16446"]
    assert c16446["monetary_value"] == 0 and c16446["clv"] < 1000
    assert stored["n_reviews"].isna().all() and metrics["text"]["customers_with_reviews"] == 0


def test_longer_horizon_means_more_value():
    rng = pd.date_range("2024-01-01", periods=400, freq="D")
    rows = [
        (f"c{i}", f"o{i}-{k}", rng[(i * 7 + k * 30) % 400], 10.0 + (i * k * 37) % 23 + 5 * (i % 4), False)
        for i in range(60)
        for k in range(1 + i % 6)
    ]
    orders = pd.DataFrame(rows, columns=["customer_id", "order_id", "ts", "amount", "is_return"])
    short, _ = compute_profiles(orders, ProfileSettings(horizon_weeks=13, churn_method="off"))
    long, metrics = compute_profiles(orders, ProfileSettings(horizon_weeks=52, churn_method="off"))
    assert long["clv"].sum() > short["clv"].sum() > 0
    assert long["churn_prob"].isna().all() and "turned off" in metrics["churn"]["skipped"]


def test_no_orders_is_a_clear_error():
    with pytest.raises(ValueError, match="load orders"):
        compute_profiles(
            pd.DataFrame(columns=["customer_id", "order_id", "ts", "amount", "is_return"]), ProfileSettings()
        )


def test_old_workspace_gains_churn_and_text_columns(cfg):
    from cx_core.store.db import Workspace

    old = Workspace(cfg.db.path)
    old.execute(
        "CREATE TABLE customer_profiles (run_id VARCHAR NOT NULL, customer_id VARCHAR NOT NULL, clv DOUBLE)"
    )
    old.execute("INSERT INTO customer_profiles VALUES ('r0', 'c1', 12.5)")
    old.close()
    ws = Workspace.open(cfg.db)
    cols = {
        r[0]
        for r in ws.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'customer_profiles'"
        )
    }
    assert {"churn_prob", "churn_method", "churn_window", "n_reviews", "top_complaints"} <= cols
    assert ws.query_one("SELECT clv, churn_prob FROM customer_profiles") == (12.5, None)
    ws.close()
