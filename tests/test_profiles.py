"""Customer profiles from the workspace: RFM, BG/NBD, Gamma-Gamma, persisted per run."""

import pandas as pd
import pytest

from cx_core.ingest import load_file
from cx_core.profiles import (ProfileSettings, build_profiles, compute_profiles, customer_detail,
                              latest_run, load_profiles)
from tests.conftest import shared


def test_online_retail_profiles_persist(ws):
    load_file(ws, shared("online_retail/online_retail.parquet"), "orders")
    res = build_profiles(ws, ProfileSettings(horizon_weeks=26))
    assert len(res.profiles) == ws.scalar(
        "SELECT count(DISTINCT customer_id) FROM orders WHERE NOT is_return AND customer_id IS NOT NULL")
    run_id, metrics, _ = latest_run(ws)
    assert run_id == res.run_id and metrics["window_end"] == "2011-12-09"
    stored = load_profiles(ws, run_id)
    assert len(stored) == len(res.profiles)
    assert stored["p_alive"].between(0, 1).all() and (stored["clv"] >= 0).all()
    assert set(stored["rfm_segment"]) >= {"Champions"}
    d = customer_detail(ws, stored["customer_id"].iloc[0])
    assert len(d["orders"]) > 0


def test_longer_horizon_means_more_value():
    rng = pd.date_range("2024-01-01", periods=400, freq="D")
    rows = [(f"c{i}", f"o{i}-{k}", rng[(i * 7 + k * 30) % 400], 10.0 + (i * k * 37) % 23 + 5 * (i % 4), False)
            for i in range(60) for k in range(1 + i % 6)]
    orders = pd.DataFrame(rows, columns=["customer_id", "order_id", "ts", "amount", "is_return"])
    short, _ = compute_profiles(orders, ProfileSettings(horizon_weeks=13))
    long, _ = compute_profiles(orders, ProfileSettings(horizon_weeks=52))
    assert long["clv"].sum() > short["clv"].sum() > 0


def test_no_orders_is_a_clear_error():
    with pytest.raises(ValueError, match="load orders"):
        compute_profiles(pd.DataFrame(columns=["customer_id", "order_id", "ts", "amount", "is_return"]),
                         ProfileSettings())
