"""A workspace view for roles that may not change data: every write is refused at the gateway.

Pages hand a viewer this view instead of the shared :class:`~cx_core.store.db.Workspace`, so an
analysis started anyway (a stale button, a crafted rerun) fails before it changes anything,
with a plain message rather than a traceback.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from cx_core.store.db import Workspace, WorkspaceError


class NotAllowed(WorkspaceError):
    """The signed-in user's role does not allow this action."""


def refusal(role: str, what: str = "change data") -> str:
    """The message shown when ``role`` may not do ``what``."""
    return f"Your role ({role}) cannot {what}. Ask an administrator if you need it; nothing was changed."


class ReadOnlyWorkspace:
    """Delegates reads to ``ws``; :meth:`write` raises :class:`NotAllowed`."""

    def __init__(self, ws: Workspace, role: str) -> None:
        self._ws = ws
        self._role = role

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ws, name)

    @contextmanager
    def write(self, timeout_s: float | None = None) -> Iterator[Any]:
        """Refuse: this role may not change the workspace."""
        raise NotAllowed(refusal(self._role))
        yield  # pragma: no cover  (makes this a generator)
