"""What the Explain page reads: reviews to pick from and the trained models to explain with."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cx_core.store.db import Workspace
from cx_core.store.runs import history

SCORE_STAGE = "review_scores"
MODEL_STAGE = "review_model"
_PICK_COLUMNS = "dataset_id, review_id, text, rating"


@dataclass(frozen=True)
class ModelChoice:
    """A trained review model that can be loaded: its id, folder and when it was trained."""

    model_id: str
    model_dir: str
    trained_at: str
    sentiment_method: str


def trained_models(ws: Workspace) -> list[ModelChoice]:
    """Trained review models whose folder still exists, newest first."""
    out = []
    models = history(ws, MODEL_STAGE)
    for run_id, cfg, finished in zip(models["run_id"], models["config"], models["finished_at"]):
        folder = str(cfg.get("model_dir", ""))
        if folder and (Path(folder) / "config.json").is_file():
            method = str(cfg.get("sentiment_method", "") or "")
            out.append(ModelChoice(str(run_id), folder, str(finished or ""), method))
    return out


def pick_reviews(
    ws: Workspace, search: str = "", limit: int = 200, run_id: str | None = None
) -> pd.DataFrame:
    """Reviews to choose from: with their scores when ``run_id`` is given, else plain.

    ``search`` matches a review id exactly or any part of the text (case-insensitive).
    Scored reviews come most negative first (the ones people ask about).
    """
    params: list[Any] = []
    where = "length(trim(r.text)) > 0"
    if search.strip():
        where += " AND (r.review_id = ? OR contains(lower(r.text), lower(?)))"
        params += [search.strip(), search.strip()]
    if run_id:
        sql = (
            "SELECT r.dataset_id, r.review_id, r.text, r.rating, s.sentiment, "
            "s.sentiment_score, s.risk FROM reviews r JOIN review_scores s "
            "ON s.dataset_id = r.dataset_id AND s.review_id = r.review_id AND s.run_id = ? "
            f"WHERE {where} ORDER BY s.sentiment_score ASC, r.review_id LIMIT ?"
        )
        return ws.query_df(sql, [run_id, *params, int(limit)])
    sql = f"SELECT {_PICK_COLUMNS} FROM reviews r WHERE {where} ORDER BY r.dataset_id, r.review_id LIMIT ?"
    return ws.query_df(sql, [*params, int(limit)])


def review_scores_row(ws: Workspace, run_id: str, dataset_id: str, review_id: str) -> dict[str, Any] | None:
    """The stored scores of one review in one scoring run (None when absent)."""
    df = ws.query_df(
        "SELECT sentiment_method, sentiment, p_negative, p_neutral, p_positive, "
        "sentiment_score, rating_pred, aspects, risk, risk_flags FROM review_scores "
        "WHERE run_id = ? AND dataset_id = ? AND review_id = ?",
        [run_id, dataset_id, review_id],
    )
    return None if df.empty else df.iloc[0].to_dict()


def count_reviews(ws: Workspace) -> int:
    """Reviews with text in the workspace."""
    return int(ws.scalar("SELECT count(*) FROM reviews WHERE length(trim(text)) > 0") or 0)


def _json(raw: Any) -> dict[str, Any]:
    try:
        out = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}
