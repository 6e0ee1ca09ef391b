"""Tests for the built-in demo store (cx_core.ingest.demo)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.api import types as ptypes
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from cx_core.ingest.demo import (
    GROUPS,
    HOSTILE_HTML,
    HOSTILE_PRODUCT,
    HOSTILE_SQL,
    DemoStore,
    generate_demo,
    write_demo,
)

END = pd.Timestamp("2026-09-30")

COLUMNS = {
    "customers": {
        "customer_id": "str",
        "name": "str",
        "email": "str",
        "phone": "str",
        "city": "str",
        "country": "str",
        "signup_date": "str",
        "age": "int",
    },
    "orders": {
        "order_id": "str",
        "customer_id": "str",
        "order_date": "str",
        "sku": "str",
        "product": "str",
        "category": "str",
        "quantity": "int",
        "unit_price": "float",
        "amount": "float",
    },
    "reviews": {
        "review_id": "str",
        "customer_id": "str",
        "review_date": "str",
        "product": "str",
        "rating": "int",
        "title": "str",
        "review_text": "str",
    },
}
CHECK = {"str": ptypes.is_string_dtype, "int": ptypes.is_integer_dtype, "float": ptypes.is_float_dtype}


@pytest.fixture(scope="module")
def store() -> DemoStore:
    """The default demo store (seed 7, 3000 customers), generated once."""
    return generate_demo()


@pytest.fixture(scope="module")
def group_of(store: DemoStore) -> pd.Series:
    """customer_id -> hidden group."""
    return store.truth.set_index("customer_id")["group"]


def _frames_equal(a: DemoStore, b: DemoStore) -> None:
    for name in ("customers", "orders", "reviews", "truth"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))


def test_same_seed_same_frames_and_bytes(tmp_path):
    _frames_equal(generate_demo(seed=3, n_customers=300), generate_demo(seed=3, n_customers=300))
    p1 = write_demo(tmp_path / "a", seed=3, n_customers=300)
    p2 = write_demo(tmp_path / "b", seed=3, n_customers=300)
    assert set(p1) == {"customers", "orders", "reviews"}
    for name in p1:
        assert p1[name].name == f"{name}.csv"
        assert p1[name].read_bytes() == p2[name].read_bytes()
    # rewriting into the same folder is idempotent too
    before = {k: v.read_bytes() for k, v in p1.items()}
    write_demo(tmp_path / "a", seed=3, n_customers=300)
    assert {k: v.read_bytes() for k, v in p1.items()} == before
    assert sorted(x.name for x in (tmp_path / "a").iterdir()) == [
        "customers.csv",
        "orders.csv",
        "reviews.csv",
    ]


def test_different_seed_differs():
    a, b = generate_demo(seed=1, n_customers=300), generate_demo(seed=2, n_customers=300)
    for name in ("customers", "orders", "reviews"):
        assert not getattr(a, name).equals(getattr(b, name))


def test_csv_round_trip(tmp_path, store):
    paths = write_demo(tmp_path, seed=7)
    back = {}
    for name, path in paths.items():
        raw = path.read_bytes()
        raw.decode("utf-8")
        assert b"\r\n" not in raw
        # the hidden groups are never written
        assert not any(g.encode() in raw for g in GROUPS)
        back[name] = pd.read_csv(path, keep_default_na=False, dtype=str)
        assert list(back[name].columns) == list(COLUMNS[name])
        assert len(back[name]) == len(getattr(store, name))
    assert HOSTILE_PRODUCT in set(back["orders"]["product"])
    reviews = back["reviews"]
    assert reviews["review_text"].str.contains(HOSTILE_HTML, regex=False).sum() == 1
    assert reviews["review_text"].str.contains(HOSTILE_SQL, regex=False).sum() == 1


def test_columns_and_dtypes(store):
    for name, cols in COLUMNS.items():
        frame = getattr(store, name)
        assert list(frame.columns) == list(cols), name
        for col, kind in cols.items():
            assert CHECK[kind](frame[col]), (name, col, frame[col].dtype)
    assert list(store.truth.columns) == ["customer_id", "group"]


def test_value_formats(store):
    c, o, r = store.customers, store.orders, store.reviews
    assert c["customer_id"].str.fullmatch(r"C\d{5}").all() and c["customer_id"].is_unique
    assert c["email"].str.fullmatch(r"[a-z0-9.]+@(?:mail\.)?example\.(?:com|org|net)").all()
    assert c["email"].is_unique
    assert c["phone"].str.fullmatch(r"\+44 (7700 900|1632 960|113 496 0|20 7946 0)\d{3}").all()
    assert pd.to_datetime(c["signup_date"], format="%Y-%m-%d").max() <= END
    assert c["age"].between(18, 85).all()
    assert o["order_id"].str.fullmatch(r"[OR]\d{6}").all()
    ts = pd.to_datetime(o["order_date"], format="%Y-%m-%d %H:%M:%S")
    assert ts.min() >= END - pd.Timedelta(days=730) and ts.max() < END + pd.Timedelta(days=1)
    assert np.allclose(o["amount"], (o["quantity"] * o["unit_price"]).round(2))
    assert (o["unit_price"] > 0).all() and (o["quantity"] != 0).all()
    assert set(o["category"]) == {"dresses", "tops", "jeans", "knitwear", "shoes", "accessories", "outerwear"}
    assert (o.groupby("sku")["product"].nunique() == 1).all()
    assert r["review_id"].is_unique and r["rating"].between(1, 5).all()
    rd = pd.to_datetime(r["review_date"], format="%Y-%m-%d")
    assert rd.max() <= END


def test_sizes(store):
    c, o, r = store.customers, store.orders, store.reviews
    assert len(c) == 3000
    assert 80 <= o["sku"].nunique() <= 150
    assert 15_000 <= o["order_id"].nunique() <= 40_000
    assert 30_000 <= len(o) <= 90_000
    assert 1_500 <= len(r) <= 5_000
    sizes = store.truth["group"].value_counts()
    assert set(sizes.index) == set(GROUPS) and sizes.nunique() == len(GROUPS)
    # 40-70 % of each group review; some write several
    share = r.groupby(r["customer_id"].map(store.truth_map())).customer_id.nunique() / sizes
    assert share.between(0.35, 0.75).all(), share
    assert (r["customer_id"].value_counts() > 1).sum() > 200
    # ~3 % empty or very short texts
    short = (r["review_text"].str.len() < 10).mean()
    assert 0.01 < short < 0.06


def test_seasonality_and_heavy_tail(store):
    o = store.orders[store.orders["quantity"] > 0]
    per_month = o.groupby(o["order_date"].str[5:7])["order_id"].nunique()
    assert per_month[["11", "12"]].mean() > 1.5 * per_month[["02", "03", "04", "05"]].mean()
    spend = o.groupby("customer_id")["amount"].sum()
    assert spend.quantile(0.99) > 5 * spend.median()


def test_referential_integrity(store):
    ids = set(store.customers["customer_id"])
    assert set(store.orders["customer_id"]) <= ids
    assert set(store.reviews["customer_id"]) <= ids
    assert set(store.truth["customer_id"]) == ids
    first = store.orders.groupby("customer_id")["order_date"].min().str[:10]
    signup = store.customers.set_index("customer_id")["signup_date"]
    assert (signup.loc[first.index] <= first).all()  # nobody orders before signing up
    bought = store.orders[["customer_id", "product"]].drop_duplicates()
    reviewed = store.reviews[["customer_id", "product"]].merge(bought, how="left", indicator=True)
    assert (reviewed["_merge"] == "both").all()  # reviews are of products the customer bought


def test_returns(store):
    o = store.orders
    ret = o[o["order_id"].str.startswith("R")]
    assert len(ret) > 0
    assert (ret["quantity"] < 0).all() and (ret["amount"] < 0).all()
    sales = o[o["order_id"].str.startswith("O")]
    assert (sales["quantity"] > 0).all() and (sales["amount"] > 0).all()
    # every return line matches a line of its original order (R000123 -> O000123), later on
    orig = sales[["order_id", "sku", "customer_id", "order_date"]].drop_duplicates(["order_id", "sku"])
    matched = ret.assign(order_id="O" + ret["order_id"].str[1:]).merge(
        orig, on=["order_id", "sku"], how="left", suffixes=("", "_orig")
    )
    assert len(matched) == len(ret) and matched["order_date_orig"].notna().all()
    assert (matched["customer_id"] == matched["customer_id_orig"]).all()
    assert (matched["order_date"] > matched["order_date_orig"]).all()


def test_churners_and_loyal_recency(store, group_of):
    o = store.orders
    last = pd.to_datetime(o.groupby("customer_id")["order_date"].max())
    recent = last > END - pd.Timedelta(days=180)
    g = last.index.map(group_of)
    assert not recent[g == "unhappy_delivery"].any()
    assert recent[g == "loyal_premium"].mean() > 0.8
    first = pd.to_datetime(o.groupby("customer_id")["order_date"].min())
    new = first[first.index.map(group_of) == "new_customers"]
    assert (new > END - pd.Timedelta(days=92)).all()
    n_orders = o[o["quantity"] > 0].groupby("customer_id")["order_id"].nunique()
    assert n_orders[n_orders.index.map(group_of) == "new_customers"].between(1, 2).all()


def test_group_behaviour(store, group_of):
    o = store.orders.assign(group=store.orders["customer_id"].map(group_of))
    sales = o[o["quantity"] > 0]
    aov = sales.groupby(["group", "order_id"])["amount"].sum().groupby(level=0).mean()
    assert aov.idxmax() == "loyal_premium"
    price = sales.groupby("group")["unit_price"].median()
    assert price.idxmin() == "bargain_hunters"
    ret_share = (o["quantity"] < 0).groupby(o["group"]).mean()
    assert ret_share.idxmax() == "fit_returners" and ret_share["fit_returners"] > 0.2


def test_ratings_by_group(store, group_of):
    mean = store.reviews.groupby(store.reviews["customer_id"].map(group_of))["rating"].mean()
    print("\nmean rating by group:", mean.round(2).to_dict())
    assert mean["loyal_premium"] > mean["bargain_hunters"] > mean["fit_returners"] > mean["unhappy_delivery"]


def _behaviour(store: DemoStore) -> pd.DataFrame:
    """Per-customer log revenue, log number of orders, recency (days), return share."""
    o = store.orders
    ts = pd.to_datetime(o["order_date"])
    sales = o["quantity"] > 0
    return pd.DataFrame(
        {
            "log_revenue": np.log1p(o.groupby("customer_id")["amount"].sum().clip(lower=0)),
            "log_orders": np.log1p(o[sales].groupby("customer_id")["order_id"].nunique()),
            "recency": (END + pd.Timedelta(days=1) - ts.groupby(o["customer_id"]).max()).dt.days,
            "return_share": (~sales).groupby(o["customer_id"]).sum() / sales.groupby(o["customer_id"]).sum(),
        }
    ).fillna(0.0)


def test_groups_recoverable(store, group_of):
    r = store.reviews
    docs = (r["title"] + ". " + r["review_text"]).groupby(r["customer_id"]).agg(" ".join)
    tfidf = TfidfVectorizer(sublinear_tf=True, min_df=2, stop_words="english").fit_transform(docs)
    behaviour = _behaviour(store).loc[docs.index]
    z = (behaviour - behaviour.mean()) / behaviour.std()
    # weighted so the four behaviour columns complement, not swamp, the unit-norm text rows
    features = np.hstack([tfidf.toarray(), 0.15 * z.to_numpy()])
    with threadpool_limits(limits=1):  # small problem: threads only add contention
        labels = KMeans(n_clusters=5, n_init=10, random_state=0).fit_predict(features)
    ari = adjusted_rand_score(docs.index.map(group_of), labels)
    print(f"\nrecoverability proxy ARI = {ari:.3f} over {len(docs)} reviewers")
    assert ari >= 0.6


def test_an_interrupted_first_demo_load_is_completed(tmp_path):
    """The browser moved on while the demo loaded (customers and orders in, reviews not): the next
    view completes it instead of leaving a demo store without reviews forever."""
    from cx_core.config import load_config
    from cx_core.ingest.bootstrap import demo_seeded, ensure_demo
    from cx_core.ingest.demo import write_demo
    from cx_core.ingest.load import load_file
    from cx_core.store.db import Workspace

    cfg = load_config(
        env={}, db__path=str(tmp_path / "ws.duckdb"), demo__dir=str(tmp_path / "demo"), demo__customers=120
    )
    ws = Workspace.open(cfg.db)
    try:
        paths = write_demo(tmp_path / "demo", seed=cfg.demo.seed, n_customers=120)
        load_file(ws, paths["customers"], "customers", name="demo/customers.csv")
        assert not demo_seeded(ws) and ws.scalar("SELECT count(*) FROM reviews") == 0
        reports = ensure_demo(ws, cfg)
        assert [bool(r.already_loaded) for r in reports] == [True, False, False]
        assert ws.scalar("SELECT count(*) FROM reviews") > 0 and demo_seeded(ws)
        assert ws.scalar("SELECT count(*) FROM datasets") == 3
        assert ensure_demo(ws, cfg) == []
    finally:
        ws.close()
