"""Synthetic workspace rows for the overview / driver tests (reviews, scores, profiles, runs)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from cx_core.store.db import Workspace

ANCHOR = datetime(2024, 6, 30, 12, 0)


def insert(ws: Workspace, table: str, frame: pd.DataFrame) -> None:
    """Append ``frame`` to ``table`` by column name."""
    with ws.write() as cur:
        cur.register("_t", frame)
        cur.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _t")
        cur.unregister("_t")


def add_run(ws: Workspace, run_id: str, stage: str, finished: datetime = ANCHOR) -> None:
    """A finished row in ``runs``."""
    with ws.write() as cur:
        cur.execute(
            "INSERT INTO runs VALUES (?, ?, 'k', '{}', ?, ?, 'done', '{}')",
            [run_id, stage, finished, finished],
        )


def add_reviews(
    ws: Workspace,
    ts: list,
    ratings: list,
    customers: list,
    aspect_scores: list[dict],
    run_id: str | None = "s1",
    dataset_id: str = "d1",
) -> None:
    """Reviews plus (when ``run_id``) their ``review_scores`` rows and the scoring run."""
    n = len(ts)
    ids = [f"r{i}" for i in range(n)]
    insert(
        ws,
        "reviews",
        pd.DataFrame(
            {
                "dataset_id": dataset_id,
                "review_id": ids,
                "customer_id": customers,
                "ts": ts,
                "text": [f"<img src=x onerror=alert(1)> review {i}" for i in range(n)],
                "rating": np.asarray(ratings, dtype=float),
                "text_hash": ids,
            }
        ),
    )
    if run_id is None:
        return
    sent = [float(np.mean(list(a.values()))) if a else 0.0 for a in aspect_scores]
    insert(
        ws,
        "review_scores",
        pd.DataFrame(
            {
                "run_id": run_id,
                "dataset_id": dataset_id,
                "review_id": ids,
                "model_id": "m",
                "sentiment_method": "test",
                "sentiment": ["negative" if s < 0 else "positive" for s in sent],
                "sentiment_score": sent,
                "aspects": [sorted(a) for a in aspect_scores],
                "aspect_sentiment_json": [json.dumps(a) for a in aspect_scores],
            }
        ),
    )
    add_run(ws, run_id, "review_scores")


def add_profiles(ws: Workspace, churn: dict[str, float], clv: dict[str, float], run_id: str = "p1") -> None:
    """``customer_profiles`` rows with churn_prob and clv, plus the profiles run."""
    insert(
        ws,
        "customer_profiles",
        pd.DataFrame(
            {
                "run_id": run_id,
                "customer_id": list(churn),
                "churn_prob": list(churn.values()),
                "clv": [clv[c] for c in churn],
            }
        ),
    )
    add_run(ws, run_id, "profiles")


def planted(ws: Workspace, n: int = 400, seed: int = 0) -> None:
    """Reviews where negative 'delivery' costs 2 stars, negative 'price' 0.5, 'packaging' nothing;
    'delivery' complaints are much more frequent in the last 90 days; churners complain about delivery."""
    rng = np.random.default_rng(seed)
    ts = [ANCHOR - timedelta(days=int(d)) for d in rng.integers(0, 180, n)]
    recent = np.array([(ANCHOR - t).days < 90 for t in ts])
    scores, ratings = [], []
    for i in range(n):
        a = {}
        if rng.random() < 0.6:
            a["delivery"] = -0.8 if rng.random() < (0.6 if recent[i] else 0.2) else 0.6
        if rng.random() < 0.6:
            a["price"] = -0.7 if rng.random() < 0.4 else 0.5
        if rng.random() < 0.5:
            a["packaging"] = -0.6 if rng.random() < 0.4 else 0.7
        r = 4.5 - 2.0 * (a.get("delivery", 0) < -0.25) - 0.5 * (a.get("price", 0) < -0.25)
        scores.append(a)
        ratings.append(float(np.clip(round(r + rng.normal(0, 0.3)), 1, 5)))
    customers = [f"c{i}" for i in range(n)]
    add_reviews(ws, ts, ratings, customers, scores)
    churn = {c: (0.8 if a.get("delivery", 0) < -0.25 else 0.2) for c, a in zip(customers, scores)}
    add_profiles(ws, churn, {c: 10.0 for c in customers})


def later_order(ws: Workspace, days_after: int = 200) -> None:
    """One order line ``days_after`` days after :data:`ANCHOR` (orders that run on past the reviews)."""
    insert(
        ws,
        "orders",
        pd.DataFrame(
            {
                "dataset_id": ["late"],
                "line_no": [1],
                "order_id": ["late-1"],
                "customer_id": ["late"],
                "ts": [ANCHOR + timedelta(days=days_after)],
                "amount": [10.0],
                "is_return": [False],
            }
        ),
    )
