"""Shared set-up for the Model and Reviews page tests: a small rated review set and the tiny encoder;
a scoring run over every loaded review."""

from __future__ import annotations

from datetime import datetime

from cx_core.config import load_config
from cx_core.store.db import Workspace
from cx_core.store.runs import record_run
from tests.reviews.test_review_pipeline import add, reviews

XSS = "<img src=x onerror=alert(1)>"


def review_app_env(tmp_path, monkeypatch, tiny_dir: str, n: int = 150) -> None:
    """Point the app at a workspace holding ``n`` synthetic reviews (one hostile) and the tiny encoder."""
    env = {
        "CX_DB_PATH": str(tmp_path / "ws.duckdb"),
        "CX_DEMO_DIR": str(tmp_path / "demo"),
        "CX_INGEST_UPLOAD_DIR": str(tmp_path / "uploads"),
        "CX_MODEL_DIR": tiny_dir,
        "CX_MODEL_DEVICE": "cpu",
        "CX_MODEL_DTYPE": "float32",
        "CX_MODEL_MAX_LENGTH": "64",
        "CX_REVIEWS_MODEL_STORE": str(tmp_path / "models"),
        "CX_REVIEWS_EPOCHS": "2",
        "CX_REVIEWS_MIN_STEPS": "0",
        "CX_REVIEWS_LEXICAL_DIM": "8",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    import streamlit as st

    st.cache_resource.clear()  # the app caches config, workspace and model per process
    st.cache_data.clear()
    ws = Workspace.open(load_config(env=env).db)
    add(ws, reviews(n))
    with ws.write() as cur:  # a dataset row, so the app does not load the demo store
        cur.execute(
            "INSERT INTO datasets VALUES ('ds1', 'reviews', ?, 'x', ?, ?, 0, '{}', '{}')",
            [f"{XSS}.csv", datetime.now(), n],
        )
        cur.execute(
            "UPDATE reviews SET ts = TIMESTAMP '2024-01-01' + to_days(CAST(substr(review_id, 2) AS INT))"
        )
    ws.close()


def score_all(ws, run_id: str = "rs1") -> None:
    """A scoring run over every loaded review (what Score reviews would leave behind)."""
    with ws.write() as cur:
        cur.execute(
            "INSERT INTO review_scores (run_id, dataset_id, review_id, model_id, "
            "sentiment_method, sentiment, sentiment_score, aspects) "
            "SELECT ?, dataset_id, review_id, 'm', 'supervised', 'neutral', 0.0, [] "
            "FROM reviews",
            [run_id],
        )
        record_run(cur, run_id, "review_scores", "all", {"model_id": "m"}, datetime.now(), {})
