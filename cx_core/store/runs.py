"""The ``runs`` table: one row per finished piece of work (training, scoring, profiles, segments, ...).

Every stage records its run with :func:`record_run` inside the same transaction that writes its
rows, so a run row exists exactly when its results do; readers ask for the newest finished run of
a stage with :func:`latest_run` / :func:`latest_run_id`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cx_core.store.db import Workspace


@dataclass(frozen=True)
class RunRecord:
    """One finished run: ids, the data it saw, its config and metrics (decoded JSON)."""

    run_id: str
    stage: str
    dataset_key: str
    finished_at: datetime | None
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)


def record_run(cur: Any, run_id: str, stage: str, dataset_key: str, config: Any,
               started: datetime, metrics: Any) -> None:
    """Insert a finished run (``cur`` is the open transaction of :meth:`Workspace.write`).

    ``config`` and ``metrics`` are JSON-encoded here (anything ``json`` cannot encode as ``str``).
    """
    cur.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, 'done', ?)",
                [run_id, stage, dataset_key, json.dumps(config, default=str), started,
                 datetime.now(), json.dumps(metrics, default=str)])


def _decode(raw: str | None) -> dict[str, Any]:
    return json.loads(raw) if raw else {}


def latest_run(ws: Workspace, stage: str) -> RunRecord | None:
    """The newest finished run of ``stage``, or None when it never ran."""
    row = ws.query_one("SELECT run_id, stage, dataset_key, finished_at, config_json, metrics_json "
                       "FROM runs WHERE stage = ? AND status = 'done' "
                       "ORDER BY finished_at DESC NULLS LAST LIMIT 1", [stage])
    if row is None:
        return None
    return RunRecord(row[0], row[1], row[2], row[3], _decode(row[4]), _decode(row[5]))


def latest_run_id(ws: Workspace, stage: str) -> str | None:
    """Run id of the newest finished run of ``stage``, or None."""
    found = latest_run(ws, stage)
    return None if found is None else found.run_id
