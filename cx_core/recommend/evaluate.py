"""Time-split evaluation of item recommenders: each customer's last basket held out.

For every customer with at least two orders the last order (by time) is held
out; the model is fitted on all other order lines.  The targets are the items
of the held-out basket the customer had not bought before (bought items are
never recommended); customers whose last basket holds only repeat items are
skipped.  Metrics: recall@k (hits / number of targets) and NDCG@k (binary
relevance), averaged over evaluated customers.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from cx_core.recommend.orders import purchases


def last_basket_split(lines: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, set[str]]]:
    """Training lines and, per customer, the new items of their held-out last basket."""
    df = lines.dropna(subset=["customer_id", "item"]).astype({"customer_id": str, "item": str})
    if "is_return" in df.columns:
        df = df[~df["is_return"].astype(bool)]
    if "quantity" in df.columns:
        df = df[df["quantity"].fillna(1) > 0]
    orders = df.groupby(["customer_id", "order_id"], sort=False)["ts"].max().reset_index()
    orders = orders.sort_values(["customer_id", "ts", "order_id"])
    n_orders = orders.groupby("customer_id")["order_id"].transform("size")
    last = orders[n_orders >= 2].groupby("customer_id").tail(1)
    key = pd.MultiIndex.from_frame(df[["customer_id", "order_id"]])
    held = key.isin(pd.MultiIndex.from_frame(last[["customer_id", "order_id"]]))
    train, test = df[~held], df[held]
    seen = set(zip(train["customer_id"], train["item"]))
    targets: dict[str, set[str]] = {}
    for cust, item in zip(test["customer_id"], test["item"]):
        if (cust, item) not in seen:
            targets.setdefault(cust, set()).add(item)
    return train, targets


def ranking_metrics(recs: pd.DataFrame, targets: dict[str, set[str]], k: int = 10) -> dict[str, float]:
    """Mean recall@k and NDCG@k over the customers in ``targets``."""
    by_cust = recs[recs["rank"] <= k].groupby("customer_id")["item"].apply(list).to_dict()
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    recall, ndcg = [], []
    for cust, truth in targets.items():
        got = by_cust.get(cust, [])
        hits = np.array([item in truth for item in got[:k]], dtype=float)
        recall.append(hits.sum() / len(truth))
        idcg = discounts[: min(len(truth), k)].sum()
        ndcg.append(float((hits * discounts[: len(hits)]).sum() / idcg))
    return {
        f"recall@{k}": float(np.mean(recall)),
        f"ndcg@{k}": float(np.mean(ndcg)),
        "customers_evaluated": len(targets),
    }


def evaluate(models: dict[str, Any], lines: pd.DataFrame, k: int = 10) -> dict[str, Any]:
    """Fit each model on the training split, recommend for every customer, score, and time it."""
    train, targets = last_basket_split(lines)
    p = purchases(train)
    report: dict[str, Any] = {
        "train_customers": int(p["customer_id"].nunique()),
        "train_items": int(p["item"].nunique()),
        "k": k,
    }
    for name, model in models.items():
        t0 = time.perf_counter()
        model.fit(train)
        t1 = time.perf_counter()
        recs = model.recommend(None, n=k)
        t2 = time.perf_counter()
        fitted = set(model.customers_)
        known = {c: t for c, t in targets.items() if c in fitted}
        report[name] = {
            **ranking_metrics(recs, known, k),
            "fit_s": round(t1 - t0, 2),
            "recommend_all_s": round(t2 - t1, 2),
            "total_s": round(t2 - t0, 2),
            "customers_recommended": int(recs["customer_id"].nunique()),
        }
    return report
