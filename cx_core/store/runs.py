"""The ``runs`` table: one row per finished piece of work (training, scoring, profiles, segments, ...).

The only code that reads the ``runs`` table. Every stage records its run with
:func:`record_run` inside the same transaction that writes its rows, so a run row
exists exactly when its results do; readers ask for the newest finished run of a
stage (:func:`latest`, :func:`latest_id`), its history (:func:`history`), one run
(:func:`get`), and which datasets were loaded after a run began
(:func:`datasets_since`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

import pandas as pd

from cx_core.store.db import Workspace


class StageName(str, Enum):
    """The stages that record runs (the ``runs.stage`` column)."""

    BATCH = "batch"
    REVIEW_MODEL = "review_model"
    REVIEW_SCORES = "review_scores"
    PROFILES = "profiles"
    SEGMENTS = "segments"
    SEGMENT_REASONS = "segment_reasons"
    THEMES = "themes"
    RECOMMEND = "recommend"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class RunRecord:
    """One finished run: ids, the data it saw, its config and metrics (decoded JSON)."""

    run_id: str
    stage: str
    dataset_key: str
    finished_at: datetime | None
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    started_at: datetime | None = None


_COLUMNS = "run_id, stage, dataset_key, finished_at, config_json, metrics_json, started_at"


def record_run(
    cur: Any, run_id: str, stage: str, dataset_key: str, config: Any, started: datetime, metrics: Any
) -> None:
    """Insert a finished run (``cur`` is the open transaction of :meth:`Workspace.write`).

    ``config`` and ``metrics`` are JSON-encoded here (anything ``json`` cannot encode as ``str``).
    """
    cur.execute(
        "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, 'done', ?)",
        [
            run_id,
            str(stage),
            dataset_key,
            json.dumps(config, default=str),
            started,
            datetime.now(),
            json.dumps(metrics, default=str),
        ],
    )


def _decode(raw: str | None) -> dict[str, Any]:
    return json.loads(raw) if raw else {}


def _record(row: tuple) -> RunRecord:
    return RunRecord(row[0], row[1], row[2], row[3], _decode(row[4]), _decode(row[5]), row[6])


def latest(ws: Workspace, stage: str) -> RunRecord | None:
    """The newest finished run of ``stage``, or None when it never ran."""
    row = ws.query_one(
        f"SELECT {_COLUMNS} FROM runs WHERE stage = ? AND status = 'done' "
        "ORDER BY finished_at DESC NULLS LAST LIMIT 1",
        [str(stage)],
    )
    return None if row is None else _record(row)


def latest_id(ws: Workspace, stage: str) -> str | None:
    """Run id of the newest finished run of ``stage``, or None."""
    found = latest(ws, stage)
    return None if found is None else found.run_id


def get(ws: Workspace, run_id: str, stage: str | None = None) -> RunRecord | None:
    """One finished run by id (and stage, when given), or None."""
    sql = f"SELECT {_COLUMNS} FROM runs WHERE run_id = ? AND status = 'done'"
    params: list[Any] = [run_id]
    if stage is not None:
        sql += " AND stage = ?"
        params.append(str(stage))
    row = ws.query_one(sql, params)
    return None if row is None else _record(row)


def run_exists(ws: Workspace, run_id: str) -> bool:
    """Whether a finished run with this id exists."""
    return bool(ws.scalar("SELECT count(*) FROM runs WHERE run_id = ? AND status = 'done'", [run_id]))


def history(ws: Workspace, stage: str) -> pd.DataFrame:
    """Every finished run of ``stage``, newest first: run_id, finished_at, started_at, dataset_key,
    config and metrics (decoded dicts)."""
    df = ws.query_df(
        "SELECT run_id, finished_at, started_at, dataset_key, config_json, metrics_json "
        "FROM runs WHERE stage = ? AND status = 'done' "
        "ORDER BY finished_at DESC NULLS LAST, run_id DESC",
        [str(stage)],
    )
    df["config"] = df.pop("config_json").map(_decode_lenient)
    df["metrics"] = df.pop("metrics_json").map(_decode_lenient)
    return df


def _decode_lenient(raw: str | None) -> dict[str, Any]:
    try:
        return _decode(raw)
    except (TypeError, ValueError):
        return {}


def datasets_since(ws: Workspace, run_id: str) -> list[str]:
    """Dataset ids loaded after ``run_id`` started (empty when the run is unknown)."""
    df = ws.query_df(
        "SELECT dataset_id FROM datasets WHERE loaded_at > "
        "(SELECT started_at FROM runs WHERE run_id = ?) ORDER BY loaded_at",
        [run_id],
    )
    return df["dataset_id"].tolist()
