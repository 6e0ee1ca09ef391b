"""The one SQL gateway: every query in CX Insight goes through ``Workspace``.

Values are always bound as parameters; identifiers (table and column names,
which can come from user files) are quoted by :func:`cx_core.store.sql.quote_ident` and nothing
else.  Writes are serialised by a lock so two browser tabs cannot interleave a
load; a writer that cannot get the lock in time gets :class:`WorkspaceBusy`.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import duckdb
import pandas as pd

from cx_core.config import DbConfig
from cx_core.store.schema import ensure_schema

Params = Sequence[Any] | dict[str, Any] | None


class WorkspaceError(RuntimeError):
    """Base class for workspace problems shown to the user as plain messages."""


class WorkspaceBusy(WorkspaceError):
    """Another write (a load in another tab, say) holds the workspace."""


class WorkspaceLocked(WorkspaceError):
    """Another process has the DuckDB file open."""


class Workspace:
    """A DuckDB workspace file with bound-parameter queries and serialised writes."""

    def __init__(
        self,
        path: str,
        memory_limit: str = "2GB",
        threads: int = 2,
        busy_timeout_s: float = 2.0,
        read_only: bool = False,
    ) -> None:
        self.path = path
        self.memory_limit = memory_limit
        self.threads = threads
        self.busy_timeout_s = busy_timeout_s
        self.read_only = read_only
        self._lock = threading.Lock()
        self._conn = self._connect()

    @classmethod
    def open(cls, cfg: DbConfig, read_only: bool = False) -> "Workspace":
        """Open (creating if needed) the workspace named by the config, with its schema."""

        ws = cls(cfg.path, cfg.memory_limit, cfg.threads, cfg.busy_timeout_s, read_only)
        if not read_only:
            ensure_schema(ws)
        return ws

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = duckdb.connect(self.path, read_only=self.read_only)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise WorkspaceLocked(
                    f"The workspace {self.path} is open in another program "
                    "(another app or CLI run). Close it, or set CX_DB_PATH to another file."
                ) from exc
            raise
        conn.execute(f"SET memory_limit = '{_safe_setting(self.memory_limit)}'")
        conn.execute(f"SET threads = {int(self.threads)}")
        conn.execute("SET preserve_insertion_order = false")
        conn.execute("SET enable_progress_bar = false")
        return conn

    # -- reads ---------------------------------------------------------------
    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A private cursor (DuckDB connections are not shared across threads)."""
        cur = self._conn.cursor()
        try:
            yield cur
        finally:
            cur.close()

    def execute(self, sql: str, params: Params = None) -> list[tuple]:
        """Run one statement with bound parameters and return all rows."""
        with self.cursor() as cur:
            return cur.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Params = None) -> tuple | None:
        """Run one statement and return its first row (or None)."""
        with self.cursor() as cur:
            return cur.execute(sql, params).fetchone()

    def scalar(self, sql: str, params: Params = None) -> Any:
        """Run one statement and return the first column of the first row."""
        row = self.query_one(sql, params)
        return None if row is None else row[0]

    def query_df(self, sql: str, params: Params = None) -> pd.DataFrame:
        """Run one statement and return a pandas DataFrame."""
        with self.cursor() as cur:
            return cur.execute(sql, params).df()

    def table_exists(self, name: str) -> bool:
        """Whether a table or view of that name exists in the main schema."""
        return bool(
            self.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name])
        )

    # -- writes --------------------------------------------------------------
    @contextmanager
    def write(self, timeout_s: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction: commit on success, roll back on any error.

        Raises :class:`WorkspaceBusy` when another write holds the workspace
        for longer than ``timeout_s`` (default: the config's busy timeout).
        """
        if self.read_only:
            raise WorkspaceError("the workspace is open read-only")
        wait = self.busy_timeout_s if timeout_s is None else timeout_s
        if not self._lock.acquire(timeout=wait):
            raise WorkspaceBusy(
                "The workspace is busy with another load or analysis. "
                "Try again when it has finished; nothing was changed."
            )
        cur = self._conn.cursor()
        try:
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
        finally:
            cur.close()
            self._lock.release()

    def close(self) -> None:
        """Close the underlying connection."""
        self._conn.close()


def _safe_setting(value: str) -> str:
    """Settings cannot be bound as parameters; allow only a plain size string."""
    import re

    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]?i?B", value.strip(), re.IGNORECASE):
        raise ValueError(f"bad memory limit {value!r} (use e.g. '2GB')")
    return value.strip()
