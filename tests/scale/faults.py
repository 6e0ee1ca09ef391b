"""Faults injected into Ray workers by the scale tests (a module of its own, so the workers can
import it by name: ``tests.scale.faults``)."""

from __future__ import annotations


class DyingPlacer:
    """A placer whose first call kills its worker process (os._exit), once: the marker file makes
    the retried call succeed."""

    def __init__(self, inner, marker: str) -> None:
        self.inner, self.marker = inner, marker

    def place(self, X):
        import os
        from pathlib import Path

        if not Path(self.marker).exists():
            Path(self.marker).write_text(str(os.getpid()))
            os._exit(1)
        return self.inner.place(X)
