"""The audit log: who did what and when, written in the same transaction as the action.

An action that changes the workspace (a load, a delete) calls :func:`record_audit` with the
cursor of its own ``ws.write()`` transaction, so the audit row exists exactly when the change
does.  Actions that only read (an export, revealing personal data, a report, a login) have no
transaction of their own: :func:`record_event` opens one for the audit row.  Details never hold
passwords or personal data, only ids, counts and settings.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pandas as pd

from cx_core.store.db import Workspace

AUDIT_COLUMNS = ["happened_at", "actor", "role", "action", "detail"]


def record_audit(cur: Any, actor: str, role: str, action: str, detail: dict[str, Any] | None = None) -> None:
    """Insert one audit row through ``cur`` (the open transaction of the action it records)."""
    cur.execute(
        "INSERT INTO audit_log (happened_at, actor, role, action, detail_json) VALUES (?, ?, ?, ?, ?)",
        [
            datetime.now(),
            str(actor),
            str(role),
            str(action),
            json.dumps(detail or {}, default=str, sort_keys=True),
        ],
    )


def record_event(
    ws: Workspace, actor: str, role: str, action: str, detail: dict[str, Any] | None = None
) -> None:
    """Record an action that writes nothing else (export, reveal, report, login) in its own transaction."""
    with ws.write() as cur:
        record_audit(cur, actor, role, action, detail)


def audit_log(ws: Workspace, limit: int | None = 1000, action: str | None = None) -> pd.DataFrame:
    """The newest audit rows first (``AUDIT_COLUMNS``), optionally one action only."""
    sql = (
        "SELECT happened_at, actor, role, action, detail_json AS detail FROM audit_log "
        "WHERE (? IS NULL OR action = ?) ORDER BY happened_at DESC"
    )
    params: list[Any] = [action, action]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    return ws.query_df(sql, params)
