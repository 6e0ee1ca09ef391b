"""Text profile per customer from a synthetic review_scores table; stored with the profiles."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from cx_core.customers.profiles import ProfileSettings, build_profiles, load_profiles
from cx_core.customers.text_profile import load_review_signals, signal_rows, text_profiles
from cx_core.store import runs

XSS = "<img src=x onerror=alert(1)>"

# review_id, customer_id, day, rating, (sentiment, score, aspects, risk, flags) or None = unscored
REVIEWS = [
    ("r1", "a", 1, 1.0, ("negative", -0.8, {"delivery": -0.7, "price": 0.1}, 0.8, ["refund"])),
    ("r2", "a", 5, 5.0, ("positive", 0.9, {"quality": 0.8}, 0.1, [])),
    ("r3", "a", 9, 2.0, ("negative", -0.5, {"delivery": -0.4, "fit": -0.6}, 0.2, [])),
    ("r4", "b", 3, 4.0, None),
    ("r5", "c", 4, 3.0, ("neutral", 0.0, {XSS: -0.9}, None, None)),
    ("r6", None, 2, 1.0, ("negative", -0.9, {"price": -0.9}, 0.9, ["cancel"])),
]


def seed_reviews(ws, with_scores: bool = True) -> None:
    """Write the reviews above and two scoring runs (the older one with other scores)."""
    with ws.write() as cur:
        for rid, cid, day, rating, _ in REVIEWS:
            cur.execute(
                "INSERT INTO reviews VALUES ('ds_r', ?, ?, ?, NULL, ?, ?, NULL, NULL, ?, NULL)",
                [rid, cid, datetime(2024, 1, day), f"text {rid}", rating, f"h{rid}"],
            )
        if not with_scores:
            return
        for run, finished, flip in (("old", datetime(2024, 2, 1), -1.0), ("new", datetime(2024, 3, 1), 1.0)):
            cur.execute(
                "INSERT INTO runs VALUES (?, 'review_scores', 'k', '{}', ?, ?, 'done', '{}')",
                [run, finished, finished],
            )
            for rid, _, _, _, sc in REVIEWS:
                if sc is None:
                    continue
                label, score, aspects, risk, flags = sc
                cur.execute(
                    "INSERT INTO review_scores VALUES (?, 'ds_r', ?, 'm', 'supervised', ?, "
                    "NULL, NULL, NULL, ?, NULL, ?, ?, ?, ?)",
                    [
                        run,
                        rid,
                        label,
                        flip * score,
                        list(aspects),
                        json.dumps({k: flip * v for k, v in aspects.items()}),
                        risk,
                        flags,
                    ],
                )


def test_text_profile_hand_checked(ws):
    seed_reviews(ws)
    assert runs.latest_id(ws, "review_scores") == "new"
    prof = text_profiles(load_review_signals(ws, "new"))
    assert list(prof.index) == ["a", "b", "c"]  # r6 has no customer
    a, b, c = prof.loc["a"], prof.loc["b"], prof.loc["c"]
    assert a["n_reviews"] == 3 and a["mean_rating"] == pytest.approx(8 / 3)
    assert a["mean_sentiment"] == pytest.approx(-0.4 / 3)
    assert a["negative_share"] == pytest.approx(2 / 3)
    assert a["complaint_rate"] == pytest.approx(2 / 3) and a["praise_rate"] == pytest.approx(1 / 3)
    assert a["risk_rate"] == pytest.approx(1 / 3)  # r1: risk 0.8 and a refund flag
    assert list(a["top_complaints"]) == ["delivery", "fit"] and list(a["top_praise"]) == ["quality"]
    # b: reviewed but not scored: counts and rating only
    assert b["n_reviews"] == 1 and b["mean_rating"] == 4.0
    assert np.isnan(b["mean_sentiment"]) and b["top_complaints"] is None
    # c: a hostile aspect name stays data; no risk value, no flags
    assert list(c["top_complaints"]) == [XSS] and c["risk_rate"] == 0.0


def test_no_scores_and_no_reviews(ws):
    assert text_profiles(load_review_signals(ws, None)).empty
    seed_reviews(ws, with_scores=False)
    assert runs.latest_id(ws, "review_scores") is None
    prof = text_profiles(load_review_signals(ws, None))
    assert prof.loc["a", "n_reviews"] == 3 and prof["mean_sentiment"].isna().all()


def _seed_orders(ws, customers=("a", "b", "c", "d")) -> None:
    rows = [
        (
            "ds_o",
            k,
            f"o{k}",
            cid,
            pd.Timestamp("2023-06-01") + pd.Timedelta(days=int(d)),
            20.0 + i,
            None,
            None,
            None,
            None,
            None,
            False,
        )
        for k, (i, cid, d) in enumerate(
            (i, cid, d) for i, cid in enumerate(customers * 40) for d in [((i * 37) % 300) + (i % 7)]
        )
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "dataset_id",
            "line_no",
            "order_id",
            "customer_id",
            "ts",
            "amount",
            "quantity",
            "unit_price",
            "item",
            "item_name",
            "country",
            "is_return",
        ],
    )
    with ws.write() as cur:
        cur.register("_o", frame)
        cur.execute("INSERT INTO orders SELECT * FROM _o")


def test_profiles_store_text_and_churn_columns(ws):
    _seed_orders(ws)
    seed_reviews(ws)
    res = build_profiles(ws, ProfileSettings(horizon_weeks=13))
    found = runs.latest(ws, "profiles")
    run_id, metrics = found.run_id, found.metrics
    stored = load_profiles(ws, run_id).set_index("customer_id")
    assert stored.loc["a", "n_reviews"] == 3
    assert list(stored.loc["a", "top_complaints"]) == ["delivery", "fit"]
    assert pd.isna(stored.loc["d", "n_reviews"]) and stored.loc["d", "top_praise"] in (None, pd.NA)
    assert metrics["text"]["scores_run_id"] == "new"
    assert metrics["text"]["customers_with_scored_reviews"] == 2
    # four customers are too few for a churn model: NULL scores and the reason, no crash
    assert stored["churn_prob"].isna().all() and "skipped" in metrics["churn"]
    assert len(res.profiles) == 4
    rows = signal_rows(stored.loc["a"].to_dict())
    assert rows.set_index("signal").loc["Top complaints", "value"] == "delivery, fit"
    assert rows.set_index("signal").loc["Negative reviews", "value"] == "67%"
    assert (signal_rows({})["value"] == "—").all()
