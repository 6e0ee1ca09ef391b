"""Where trained review models live: one folder per model under ``reviews.model_store``,
and one ``runs`` row (stage ``review_model``) per training with its folder, settings and metrics."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from cx_core.store.db import Workspace
from cx_core.store.runs import history, record_run

STAGE = "review_model"


def new_model_id(mode: str) -> str:
    """A readable, unique model id such as ``rm_frozen_20261123_141502_ab12cd``."""
    return f"rm_{mode}_{datetime.now():%Y%m%d_%H%M%S}_{secrets.token_hex(3)}"


def record_training(
    ws: Workspace,
    model_id: str,
    model_dir: Path,
    dataset_key: str,
    config: dict[str, Any],
    metrics: dict[str, Any],
    started: datetime,
) -> None:
    """Write the ``runs`` row of a finished training (run_id = model id)."""
    cfg = {"model_dir": str(model_dir), **config}
    with ws.write() as cur:
        record_run(cur, model_id, STAGE, dataset_key, cfg, started, metrics)


def list_models(ws: Workspace) -> pd.DataFrame:
    """Trained models, newest first: model_id, dataset_key, started_at, finished_at, config, metrics."""
    return history(ws, STAGE).rename(columns={"run_id": "model_id"})


def latest_model(ws: Workspace) -> dict[str, Any] | None:
    """The newest trained model whose folder still exists: {model_id, model_dir, config, metrics}."""
    for row in list_models(ws).itertuples():
        cfg = row.config
        if cfg.get("model_dir") and (Path(cfg["model_dir"]) / "config.json").is_file():
            return {
                "model_id": row.model_id,
                "model_dir": cfg["model_dir"],
                "config": cfg,
                "metrics": row.metrics,
            }
    return None


def latest_model_dir(ws: Workspace) -> Path | None:
    """Folder of the newest trained model (None when no model was trained yet)."""
    found = latest_model(ws)
    return Path(found["model_dir"]) if found else None
