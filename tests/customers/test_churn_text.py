"""Text features in the churn model: review signals cut at the cutoff, used when they carry signal."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from cx_core.customers.churn import ChurnModel
from cx_core.customers.churn_features import TEXT_FEATURES, OrderHistory, text_features
from cx_core.customers.text_profile import review_signals

DAY0 = pd.Timestamp("2022-01-01")


def unhappy_world(n: int = 600, days: int = 540, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Weekly buyers; a third stop for good right at one of the model's cutoffs.

    Those who stop complain 10-60 days before (and so do 20% of the others, at
    random times).  Behaviour alone cannot tell who is about to leave
    (everyone buys weekly until they stop); a complaint before the cutoff can.
    """
    rng = np.random.default_rng(seed)
    cutoffs = (days - 270, days - 180, days - 90)  # the model's training and evaluation cutoffs
    orders, reviews = [], []
    for i in range(n):
        cid = f"c{i:04d}"
        leaves = i % 3 == 0
        stop = int(rng.choice(cutoffs)) + int(rng.integers(-3, 4)) if leaves else days + 1
        for k, d in enumerate(range(int(rng.integers(0, 7)), min(stop, days + 1), 7)):
            orders.append((cid, f"{cid}-{k}", DAY0 + pd.Timedelta(days=d), 30.0))
        reviews.append(
            (
                cid,
                DAY0 + pd.Timedelta(days=int(rng.integers(0, days))),
                5.0,
                "positive",
                0.8,
                {"quality": 0.7},
            )
        )
        if leaves or rng.random() < 0.2:
            d = stop - int(rng.integers(10, 60)) if leaves else int(rng.integers(0, days))
            reviews.append((cid, DAY0 + pd.Timedelta(days=d), 1.0, "negative", -0.8, {"delivery": -0.8}))
    o = pd.DataFrame(orders, columns=["customer_id", "order_id", "ts", "amount"])
    r = pd.DataFrame(
        reviews, columns=["customer_id", "ts", "rating", "sentiment", "sentiment_score", "aspects"]
    )
    raw = r.assign(
        aspect_sentiment_json=r.pop("aspects").map(json.dumps),
        risk=0.0,
        risk_flags=[[] for _ in range(len(r))],
    )
    return o, review_signals(raw)


@pytest.fixture(scope="module")
def world() -> tuple[pd.DataFrame, pd.DataFrame]:
    return unhappy_world()


def test_text_features_only_see_reviews_up_to_the_cutoff(world):
    orders, signals = world
    h = OrderHistory(orders)
    day = h.day(DAY0 + pd.Timedelta(days=300))
    a = text_features(signals, day, h.features(day, 90).index)
    later = signals.assign(ts=signals["ts"] + pd.Timedelta(days=10000))
    b = text_features(
        pd.concat([signals[signals["ts"] <= DAY0 + pd.Timedelta(days=300)], later]), day, a.index
    )
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == list(TEXT_FEATURES)
    assert set(a["has_reviews"].unique()) <= {0.0, 1.0}
    none = a[a["has_reviews"] == 0]
    assert none.drop(columns="has_reviews").isna().all().all()  # missing text is explicit


def test_text_signals_improve_churn_ranking(world):
    orders, signals = world
    h = OrderHistory(orders)
    cut = h.last_day - 90
    active = h.features(cut, 90, bgnbd=False).query("recency_days <= 7").index
    y = h.labels(cut, 90).reindex(active)  # all bought last week: behaviour cannot tell them apart
    assert 0.1 < y.mean() < 0.6
    plain = ChurnModel(90).fit(h, cut).predict_proba(h, cut).reindex(y.index)
    with_text = ChurnModel(90).fit(h, cut, signals)
    p = with_text.predict_proba(h, cut, signals).reindex(y.index)
    assert with_text.uses_text_ and "review text" in with_text.describe()
    auc_plain, auc_text = roc_auc_score(y, plain), roc_auc_score(y, p)
    assert auc_text > auc_plain + 0.15, (auc_plain, auc_text)
