"""The ``jobs`` table: long work owned by the server, visible to every page, tab and process.

A job runs one stage (:mod:`cx_core.pipeline.jobs`); this module is the only code that reads or
writes its row: created ``queued``, then ``running`` with progress, rate and time left, and finally
``done`` (with the run id), ``failed`` (with the error), ``cancelled`` or ``interrupted`` (its
process died; found at the next start).
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from cx_core.store.db import Workspace

ACTIVE = ("queued", "running")
FINISHED = ("done", "failed", "cancelled", "interrupted")


@dataclass(frozen=True)
class Job:
    """One job row (settings decoded)."""

    job_id: str
    stage: str
    state: str
    progress: float
    message: str
    started_by: str
    created_at: datetime
    settings: dict[str, Any] = field(default_factory=dict)
    units_done: int | None = None
    units_total: int | None = None
    rate: float | None = None
    eta_s: float | None = None
    estimate_s: float | None = None
    device: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result_run_id: str | None = None
    error: str | None = None
    cancel_requested: bool = False
    pid: int | None = None

    @property
    def active(self) -> bool:
        """Queued or running."""
        return self.state in ACTIVE


_COLUMNS = (
    "job_id, stage, state, progress, message, started_by, created_at, settings_json, units_done, "
    "units_total, rate, eta_s, estimate_s, device, started_at, finished_at, result_run_id, error, "
    "cancel_requested, pid"
)


def _job(row: tuple) -> Job:
    """A ``jobs`` row (``_COLUMNS`` are in :class:`Job` field order) with its settings decoded."""
    return Job(*row[:7], json.loads(row[7] or "{}"), *row[8:])


def create_job(
    ws: Workspace,
    stage: str,
    settings: dict[str, Any],
    started_by: str,
    estimate_s: float | None = None,
    device: str | None = None,
) -> str:
    """A new ``queued`` job; returns its id."""
    job_id = f"job_{datetime.now():%Y%m%d_%H%M%S}_{uuid.uuid4().hex[:6]}"
    with ws.write() as cur:
        cur.execute(
            f"INSERT INTO jobs ({_COLUMNS}) VALUES (?, ?, 'queued', 0, 'Waiting to start', ?, ?, ?, "
            "NULL, NULL, NULL, NULL, ?, ?, NULL, NULL, NULL, NULL, false, NULL)",
            [
                job_id,
                stage,
                started_by,
                datetime.now(),
                json.dumps(settings, default=str),
                estimate_s,
                device,
            ],
        )
    return job_id


def start_job(ws: Workspace, job_id: str) -> None:
    """Mark a job ``running`` in this process."""
    with ws.write() as cur:
        cur.execute(
            "UPDATE jobs SET state = 'running', started_at = ?, pid = ?, message = 'Starting' "
            "WHERE job_id = ?",
            [datetime.now(), os.getpid(), job_id],
        )


def update_progress(
    ws: Workspace,
    job_id: str,
    progress: float,
    message: str,
    units_done: int | None = None,
    units_total: int | None = None,
    rate: float | None = None,
    eta_s: float | None = None,
    timeout_s: float = 5.0,
) -> None:
    """Store a running job's progress (one small write; ``WorkspaceBusy`` after ``timeout_s``)."""
    with ws.write(timeout_s=timeout_s) as cur:
        cur.execute(
            "UPDATE jobs SET progress = ?, message = ?, units_done = ?, units_total = ?, rate = ?, "
            "eta_s = ? WHERE job_id = ?",
            [float(progress), message[:500], units_done, units_total, rate, eta_s, job_id],
        )


def finish_job(
    ws: Workspace,
    job_id: str,
    state: str,
    run_id: str | None = None,
    error: str | None = None,
    message: str | None = None,
) -> None:
    """End a job: ``done`` (with the run id), ``failed`` (with the error) or ``cancelled``."""
    if state not in FINISHED:
        raise ValueError(f"not a final job state: {state!r}")
    with ws.write(timeout_s=30) as cur:
        cur.execute(
            "UPDATE jobs SET state = ?, finished_at = ?, result_run_id = ?, error = ?, eta_s = NULL, "
            "progress = CASE WHEN ? = 'done' THEN 1.0 ELSE progress END, "
            "message = coalesce(?, message) WHERE job_id = ?",
            [state, datetime.now(), run_id, error, state, message, job_id],
        )


def request_cancel(ws: Workspace, job_id: str) -> bool:
    """Ask a queued or running job to stop; False when it already finished."""
    with ws.write() as cur:
        cur.execute(
            "UPDATE jobs SET cancel_requested = true WHERE job_id = ? AND state IN ('queued', 'running')",
            [job_id],
        )
    job = get_job(ws, job_id)
    return job is not None and job.cancel_requested and job.active


def cancel_requested(ws: Workspace, job_id: str) -> bool:
    """Whether someone asked this job to stop."""
    return bool(ws.scalar("SELECT cancel_requested FROM jobs WHERE job_id = ?", [job_id]))


def get_job(ws: Workspace, job_id: str) -> Job | None:
    """One job, or None."""
    row = ws.query_one(f"SELECT {_COLUMNS} FROM jobs WHERE job_id = ?", [job_id])
    return None if row is None else _job(row)


def active_jobs(ws: Workspace) -> list[Job]:
    """Queued and running jobs, oldest first."""
    rows = ws.execute(f"SELECT {_COLUMNS} FROM jobs WHERE state IN ('queued', 'running') ORDER BY created_at")
    return [_job(r) for r in rows]


def recent_jobs(ws: Workspace, limit: int = 20) -> list[Job]:
    """The newest jobs, active or not."""
    rows = ws.execute(f"SELECT {_COLUMNS} FROM jobs ORDER BY created_at DESC LIMIT ?", [int(limit)])
    return [_job(r) for r in rows]


def mark_interrupted(ws: Workspace, owner_pid: int | None = None) -> int:
    """Jobs left ``queued``/``running`` by a process that is gone become ``interrupted`` (their
    committed work stays: embeddings and scores resume where they stopped). Returns how many."""
    stale = [j for j in active_jobs(ws) if j.pid != owner_pid and not _alive(j.pid)]
    for job in stale:
        finish_job(
            ws,
            job.job_id,
            "interrupted",
            message="Stopped when its process ended; run it again to continue where it stopped",
        )
    return len(stale)


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def stage_rate(ws: Workspace, stage: str, device: str | None = None) -> float | None:
    """Units per second of the newest finished job of ``stage`` (on ``device`` when given) that
    measured one; the estimate for the next run on this machine."""
    sql = "SELECT rate FROM jobs WHERE stage = ? AND state = 'done' AND rate IS NOT NULL AND rate > 0"
    params: list[Any] = [stage]
    if device:
        sql += " AND device = ?"
        params.append(device)
    return ws.scalar(sql + " ORDER BY finished_at DESC LIMIT 1", params)


def jobs_frame(ws: Workspace, limit: int = 50) -> pd.DataFrame:
    """Recent jobs as a table (for the jobs list)."""
    return ws.query_df(
        "SELECT job_id, stage, state, round(progress * 100) AS percent, message, started_by, "
        "created_at, finished_at, result_run_id, error FROM jobs ORDER BY created_at DESC "
        "LIMIT ?",
        [int(limit)],
    )
