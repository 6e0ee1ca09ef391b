"""Store and read recommendation runs (table ``recommendations`` + a ``runs`` row, stage "recommend")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pandas as pd

from cx_core.progress import Progress
from cx_core.recommend.orders import ItemRecommender, PopularityRecommender, load_order_lines
from cx_core.store.db import Workspace
from cx_core.store.runs import latest, record_run

STAGE = "recommend"


METHODS = ("auto", "text", "als", "popularity")


def _order_model(ws: Workspace, method: str):
    """ALS (or popularity) fitted on the loaded orders; None when there are no usable orders."""
    lines = load_order_lines(ws)
    if lines.empty:
        return None, lines
    model = ItemRecommender() if method in ("als", "auto") else PopularityRecommender()
    return model.fit(lines), lines


def recommend_frame(
    ws: Workspace, method: str = "auto", n: int = 10, progress: Progress | None = None, encoder: Any = None
) -> tuple[pd.DataFrame, dict]:
    """Recommendations for everyone by ``method`` (with a ``source`` column) and run details.

    ``auto``: ALS for customers with order history, text for reviewers without orders
    (everyone when no orders are loaded); ``text``: text for every reviewer (bought items
    excluded too); ``als`` / ``popularity``: order history only.
    """
    from cx_core.recommend.text_inputs import has_review_items, text_recommendations

    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}: use one of {', '.join(METHODS)}.")
    step = progress or (lambda f, m: None)
    parts, details = [], {"method": method, "n": n}
    step(0.02, "Reading orders")
    model, lines = (None, None) if method == "text" else _order_model(ws, method)
    if method in ("als", "popularity") and model is None:
        raise ValueError(
            "No purchases with a customer id and an item: load orders with an item "
            "column to get recommendations."
        )
    if model is not None:
        step(0.3, f"Recommending from order history ({'popularity' if method == 'popularity' else 'ALS'})")
        source = "popularity" if method == "popularity" else "als"
        parts.append(model.recommend(None, n=n).assign(source=source))
        details.update(
            {k: v for k, v in vars(model).items() if not k.endswith("_") and not k.startswith("_")}
        )
        details["order_items"] = len(model.items_)
    if method in ("auto", "text") and has_review_items(ws):
        exclude = None
        if method == "text":
            from cx_core.recommend.orders import purchases

            lines = load_order_lines(ws)
            exclude = purchases(lines) if not lines.empty else None
        if encoder is None:
            raise ValueError("Text recommendations need the text encoder (pass encoder=...).")
        recs, tmodel = text_recommendations(ws, encoder, None, n, exclude, step)
        if model is not None:
            recs = recs[~recs["customer_id"].isin(set(model.customers_))]
        parts.append(recs.assign(source="text"))
        details.update(
            {
                "text_items": len(tmodel.items_),
                "min_praised": tmodel.min_praised,
                "praise_rating": tmodel.praise_rating,
            }
        )
    if not parts:
        raise ValueError(
            "Nothing to recommend from: load orders with an item column, or reviews with an item column."
        )
    return pd.concat(parts, ignore_index=True), details


def build_recommendations(
    ws: Workspace, method: str = "auto", n: int = 10, progress: Progress | None = None, encoder: Any = None
) -> str:
    """Recommend ``n`` items for every customer / reviewer by ``method``, store the run; its id."""
    from cx_core.ingest.datasets import dataset_version

    step = progress or (lambda f, m: None)
    started = datetime.now()
    recs, config = recommend_frame(ws, method, n, step, encoder)
    run_id = "rec_" + uuid.uuid4().hex[:10]
    step(0.9, "Saving")
    by_source = recs.groupby("source")["customer_id"].nunique().to_dict()
    metrics = {
        "customers": int(recs["customer_id"].nunique()),
        "items": int(recs["item"].nunique()),
        "by_source": {k: int(v) for k, v in by_source.items()},
        "seconds": round((datetime.now() - started).total_seconds(), 2),
    }
    with ws.write() as cur:
        cur.register("_cx_recs", recs.assign(run_id=run_id))
        cur.execute("INSERT INTO recommendations BY NAME SELECT * FROM _cx_recs")
        cur.unregister("_cx_recs")
        record_run(cur, run_id, STAGE, dataset_version(ws), config, started, metrics)
    step(1.0, "Done")
    return run_id


def recommended_customers(ws: Workspace, run_id: str) -> list[str]:
    """Customer ids with recommendations in a run, sorted."""
    return [
        r[0]
        for r in ws.execute(
            "SELECT DISTINCT customer_id FROM recommendations WHERE run_id = ? ORDER BY customer_id", [run_id]
        )
    ]


def load_recommendations(ws: Workspace, run_id: str, customer_id: str | None = None) -> pd.DataFrame:
    """A run's stored recommendations (one customer's when ``customer_id`` is given), by rank."""
    if customer_id is None:
        return ws.query_df(
            "SELECT * EXCLUDE (run_id) FROM recommendations WHERE run_id = ? ORDER BY customer_id, rank",
            [run_id],
        )
    return ws.query_df(
        "SELECT * EXCLUDE (run_id) FROM recommendations WHERE run_id = ? AND customer_id = ? ORDER BY rank",
        [run_id, str(customer_id)],
    )


def purchase_history(ws: Workspace, customer_id: str) -> pd.DataFrame:
    """Items a customer bought (returns excluded): item, item_name, orders, last bought."""
    return ws.query_df(
        "SELECT item, any_value(item_name) AS item_name, count(DISTINCT order_id) AS orders, "
        "max(ts) AS last_bought FROM orders WHERE customer_id = ? AND item IS NOT NULL "
        "AND NOT is_return AND coalesce(quantity, 1) > 0 GROUP BY item "
        "ORDER BY orders DESC, last_bought DESC",
        [str(customer_id)],
    )


def segment_recommended_items(
    ws: Workspace, segment_run: str, segment_id: int, top: int = 10
) -> pd.DataFrame:
    """Items most often recommended (newest recommendation run) to the members of one segment.

    Columns: item, item_name, members (members with it in their list), share (of the
    segment's members with recommendations), reason (the most frequent reason for it).
    Review-level runs map each review to its reviewer (``review:<id>`` when anonymous).
    """
    run = latest(ws, STAGE)
    if run is None:
        return pd.DataFrame(columns=["item", "item_name", "members", "share", "reason"])
    return ws.query_df(
        "WITH units AS (SELECT DISTINCT CASE WHEN s.unit_kind = 'review' "
        "  THEN coalesce(r.customer_id, 'review:' || r.review_id) ELSE s.unit_id END AS key "
        "  FROM segments s LEFT JOIN reviews r ON s.unit_kind = 'review' AND "
        "  (r.review_id = s.unit_id OR r.dataset_id || '/' || r.review_id = s.unit_id) "
        "  WHERE s.run_id = ? AND s.segment_id = ?), "
        "recs AS (SELECT rc.* FROM recommendations rc JOIN units u ON rc.customer_id = u.key "
        "  WHERE rc.run_id = ?) "
        "SELECT item, any_value(item_name) AS item_name, count(DISTINCT customer_id) AS members, "
        "count(DISTINCT customer_id) / (SELECT count(DISTINCT customer_id) FROM recs) AS share, "
        "mode(reason) AS reason FROM recs GROUP BY item ORDER BY members DESC, item LIMIT ?",
        [segment_run, int(segment_id), run.run_id, int(top)],
    )


def count_item_rows(ws: Workspace) -> tuple[int, int]:
    """(order lines with an item and a customer, reviews with an item)."""
    row = ws.query_one(
        "SELECT (SELECT count(*) FROM orders WHERE item IS NOT NULL AND customer_id "
        "IS NOT NULL), (SELECT count(*) FROM reviews WHERE item IS NOT NULL)"
    )
    return int(row[0]), int(row[1])
