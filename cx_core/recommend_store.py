"""Store and read recommendation runs (table ``recommendations`` + a ``runs`` row, stage "recommend")."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Callable

import pandas as pd

from .db import Workspace
from .recommend import ItemRecommender, PopularityRecommender, load_order_lines

STAGE = "recommend"
Progress = Callable[[float, str], None]


def build_recommendations(ws: Workspace, method: str = "als", n: int = 10,
                          progress: Progress | None = None) -> str:
    """Fit on the loaded orders, recommend ``n`` items for every customer, store the run; its id."""
    from .browse import dataset_version

    if method not in ("als", "popularity"):
        raise ValueError(f"Unknown method {method!r}: use 'als' or 'popularity'.")
    step = progress or (lambda f, m: None)
    started = datetime.now()
    step(0.05, "Reading orders")
    lines = load_order_lines(ws)
    step(0.2, f"Fitting the {method} recommender")
    model = (ItemRecommender() if method == "als" else PopularityRecommender()).fit(lines)
    step(0.6, "Recommending for every customer")
    recs = model.recommend(None, n=n)
    run_id = "rec_" + uuid.uuid4().hex[:10]
    step(0.9, "Saving")
    config = {"method": method, "n": n, **({k: v for k, v in vars(model).items()
                                            if not k.endswith("_") and not k.startswith("_")})}
    metrics = {"customers": int(recs["customer_id"].nunique()), "items": len(model.items_),
               "seconds": round((datetime.now() - started).total_seconds(), 2)}
    with ws.write() as cur:
        cur.register("_cx_recs", recs.assign(run_id=run_id))
        cur.execute("INSERT INTO recommendations BY NAME SELECT * FROM _cx_recs")
        cur.unregister("_cx_recs")
        cur.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, 'done', ?)",
                    [run_id, STAGE, dataset_version(ws), json.dumps(config, default=str), started,
                     datetime.now(), json.dumps(metrics)])
    step(1.0, "Done")
    return run_id


def latest_recommend_run(ws: Workspace) -> tuple[str, dict, str] | None:
    """(run_id, metrics, dataset_key) of the newest recommendation run, or None."""
    row = ws.query_one("SELECT run_id, metrics_json, dataset_key FROM runs "
                       "WHERE stage = ? AND status = 'done' "
                       "ORDER BY finished_at DESC LIMIT 1", [STAGE])
    return None if row is None else (row[0], json.loads(row[1] or "{}"), row[2])


def recommended_customers(ws: Workspace, run_id: str) -> list[str]:
    """Customer ids with recommendations in a run, sorted."""
    return [r[0] for r in ws.execute("SELECT DISTINCT customer_id FROM recommendations WHERE run_id = ? "
                                     "ORDER BY customer_id", [run_id])]


def load_recommendations(ws: Workspace, run_id: str, customer_id: str | None = None) -> pd.DataFrame:
    """A run's stored recommendations (one customer's when ``customer_id`` is given), by rank."""
    if customer_id is None:
        return ws.query_df("SELECT * EXCLUDE (run_id) FROM recommendations WHERE run_id = ? "
                           "ORDER BY customer_id, rank", [run_id])
    return ws.query_df("SELECT * EXCLUDE (run_id) FROM recommendations WHERE run_id = ? "
                       "AND customer_id = ? ORDER BY rank", [run_id, str(customer_id)])


def purchase_history(ws: Workspace, customer_id: str) -> pd.DataFrame:
    """Items a customer bought (returns excluded): item, item_name, orders, last bought."""
    return ws.query_df(
        "SELECT item, any_value(item_name) AS item_name, count(DISTINCT order_id) AS orders, "
        "max(ts) AS last_bought FROM orders WHERE customer_id = ? AND item IS NOT NULL "
        "AND NOT is_return AND coalesce(quantity, 1) > 0 GROUP BY item "
        "ORDER BY orders DESC, last_bought DESC", [str(customer_id)])
