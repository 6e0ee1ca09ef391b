"""Recommendations: ALS finds the co-purchased item, popularity does not; exclusions, reasons, CLI."""

from __future__ import annotations

import pandas as pd
import pytest

from cx_core.cli.main import main
from cx_core.recommend.evaluate import last_basket_split, ranking_metrics
from cx_core.recommend.orders import ItemRecommender, PopularityRecommender, purchases

HOSTILE = "<img src=x onerror=alert(1)>"


def _baskets() -> pd.DataFrame:
    """20 customers buy a1..a4 together; 60 buy b0..b11 (the best sellers); 't' bought a1..a3."""
    rows = []
    for c in range(20):
        rows += [(f"a{c}", f"oa{c}", f"a{i}") for i in range(1, 5)]
    for c in range(60):
        rows += [(f"b{c}", f"ob{c}", f"b{i}") for i in range(12)]
    rows += [("t", "ot1", "a1"), ("t", "ot1", "a2"), ("t", "ot2", "a3"), ("t", "ot2", "b0")]
    rows += [("t", "ret", "a4")]  # a returned a4 is not a purchase
    df = pd.DataFrame(rows, columns=["customer_id", "order_id", "item"])
    df["item_name"] = df["item"].str.upper()
    df.loc[df["item"] == "a1", "item_name"] = HOSTILE
    df["quantity"] = 1.0
    df["is_return"] = df["order_id"] == "ret"
    df["ts"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(range(len(df)), unit="h")
    return df


@pytest.fixture(scope="module")
def lines() -> pd.DataFrame:
    return _baskets()


@pytest.fixture(scope="module")
def als(lines) -> ItemRecommender:
    return ItemRecommender(factors=8, iterations=20, random_state=0).fit(lines)


def test_als_ranks_the_co_purchased_item_top3(als):
    recs = als.recommend(["t"], n=10)
    assert "a4" in list(recs["item"][:3])
    row = recs[recs["item"] == "a4"].iloc[0]
    assert "who also bought" in row["reason"] and row["because_item"] in {"a1", "a2", "a3"}


def test_popularity_misses_it(lines):
    recs = PopularityRecommender().fit(lines).recommend(["t"], n=10)
    assert "a4" not in set(recs["item"]) and len(recs) == 10
    assert set(recs["item"]) <= {f"b{i}" for i in range(1, 12)}


def test_bought_items_excluded_and_returns_ignored(als, lines):
    recs = als.recommend(None, n=5)
    bought = set(zip(purchases(lines)["customer_id"], purchases(lines)["item"]))
    assert not any((c, i) in bought for c, i in zip(recs["customer_id"], recs["item"]))
    assert ("t", "a4") not in bought  # the returned line does not count as bought
    assert recs.groupby("customer_id").size().max() <= 5


def test_every_recommendation_has_a_reason_and_names_stay_raw(als):
    recs = als.recommend(None, n=3)
    assert recs["reason"].str.len().gt(10).all()
    # names are data, not markup: kept verbatim here, escaped only where rendered
    assert any(HOSTILE in r for r in recs["reason"])
    assert HOSTILE in set(als.history("t")["item_name"])


def test_unknown_customer_and_bad_n(als):
    with pytest.raises(ValueError, match="No purchases for customer"):
        als.recommend(["nobody"])
    with pytest.raises(ValueError, match="at least 1"):
        als.recommend(["t"], n=0)
    with pytest.raises(ValueError, match="No purchases"):
        ItemRecommender().fit(pd.DataFrame(columns=["customer_id", "order_id", "item"]))


def test_last_basket_split_and_metrics(lines):
    train, targets = last_basket_split(lines)
    assert targets == {"t": {"a3", "b0"}}  # t's last order is ot2; a4 was returned
    assert not ((train["customer_id"] == "t") & (train["order_id"] == "ot2")).any()
    recs = pd.DataFrame({"customer_id": ["t", "t"], "rank": [1, 2], "item": ["a3", "zz"]})
    m = ranking_metrics(recs, targets, k=10)
    assert m["recall@10"] == pytest.approx(0.5) and m["customers_evaluated"] == 1
    assert m["ndcg@10"] == pytest.approx(1 / (1 + 1 / 1.5849625), rel=1e-6)


def test_cli_recommend(tmp_path, capsys, lines):
    f = tmp_path / "orders.csv"
    out = lines.assign(amount=1.0)
    out.loc[out["is_return"], "quantity"] = -1.0
    out.drop(columns="is_return").to_csv(f, index=False)
    db = str(tmp_path / "w.duckdb")
    assert main(["--db", db, "load", str(f), "--kind", "orders", "--map", "item=item"]) == 0
    capsys.readouterr()
    assert main(["--db", db, "recommend", "--customer", "t", "-n", "3"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("customer t:") and "who also bought" in text and text.count("\n") == 4
    assert main(["--db", db, "recommend", "--all", "--method", "popularity", "--csv"]) == 0
    assert capsys.readouterr().out.startswith("customer_id,rank,item")
    assert main(["--db", db, "recommend"]) == 2
    assert main(["--db", db, "recommend", "--save", "-n", "3"]) == 0
    assert "run_id: rec_" in capsys.readouterr().out
    assert main(["--db", db, "recommend", "--customer", "nobody"]) == 2
    assert "No purchases for customer" in capsys.readouterr().err


def test_store_roundtrip(tmp_path, lines):
    from cx_core.config import load_config
    from cx_core.ingest.load import load_file
    from cx_core.recommend.store import (
        build_recommendations,
        load_recommendations,
        purchase_history,
        recommended_customers,
    )
    from cx_core.store.db import Workspace
    from cx_core.store.runs import latest_id

    f = tmp_path / "orders.csv"
    lines.assign(amount=1.0, quantity=lines["is_return"].map({True: -1.0, False: 1.0})).drop(
        columns="is_return"
    ).to_csv(f, index=False)
    ws = Workspace.open(load_config(db__path=str(tmp_path / "w.duckdb")).db)
    try:
        assert latest_id(ws, "recommend") is None
        load_file(ws, f, "orders", _suggested(ws, f) | {"item": "item"})
        run_id = build_recommendations(ws, "als", n=3)
        assert latest_id(ws, "recommend") == run_id
        assert "t" in recommended_customers(ws, run_id)
        t = load_recommendations(ws, run_id, "t")
        assert list(t["rank"]) == [1, 2, 3] and t["item"].iat[0] == "a4" and t["reason"].str.len().gt(0).all()
        assert set(purchase_history(ws, "t")["item"]) == {"a1", "a2", "a3", "b0"}
        with pytest.raises(ValueError, match="Unknown method"):
            build_recommendations(ws, "bpr")
    finally:
        ws.close()


def _suggested(ws, f) -> dict:
    from cx_core.ingest.load import read_columns
    from cx_core.ingest.mapping import suggest_mapping
    from cx_core.ingest.readers import inspect_file

    return suggest_mapping("orders", read_columns(ws, inspect_file(f))[1])


def test_fully_cancelled_purchases_are_not_evidence(tmp_path):
    """A customer whose only purchase was cancelled (Online Retail: a 'C' invoice with negative
    quantity) gets no order-based recommendations "because" of it; a partly returned item still counts."""
    from cx_core.config import load_config
    from cx_core.ingest.load import load_file
    from cx_core.recommend.orders import load_order_lines
    from cx_core.store.db import Workspace

    rows = _baskets().assign(amount=1.0)
    extra = pd.DataFrame(
        [
            ("gone", "o1", "b1", "B1", 2.0, "2024-03-01"),  # bought 2 ...
            ("gone", "C1", "b1", "B1", -2.0, "2024-03-02"),  # ... both cancelled
            ("half", "o2", "b2", "B2", 3.0, "2024-03-01"),  # bought 3 ...
            ("half", "C2", "b2", "B2", -1.0, "2024-03-02"),  # ... one returned: still a purchase
        ],
        columns=["customer_id", "order_id", "item", "item_name", "quantity", "ts"],
    ).assign(amount=1.0)
    f = tmp_path / "orders.csv"
    base = rows.assign(quantity=rows["is_return"].map({True: -1.0, False: 1.0})).drop(columns="is_return")
    pd.concat([base, extra], ignore_index=True).to_csv(f, index=False)
    ws = Workspace.open(load_config(db__path=str(tmp_path / "w.duckdb")).db)
    try:
        load_file(ws, f, "orders", _suggested(ws, f) | {"item": "item"})
        got = load_order_lines(ws)
        assert "gone" not in set(got["customer_id"])
        assert got.loc[got["customer_id"] == "half", "item"].tolist() == ["b2"]
        assert not ((got["customer_id"] == "t") & (got["item"] == "a4")).any()  # returned a4
    finally:
        ws.close()
