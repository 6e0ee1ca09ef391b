"""The one progress type: ``progress(fraction, message)``, fraction in [0, 1].

Every long-running function in ``cx_core`` takes an optional ``progress`` of this
shape; the app draws it as a bar, the CLI as a terminal line, a job runner stores it.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Called with the share done (0-1) and a short human message."""

    def __call__(self, fraction: float, message: str) -> None: ...


def no_progress(fraction: float, message: str) -> None:
    """A progress callback that ignores every update."""


def clamp(fraction: float) -> float:
    """The fraction limited to [0, 1] (NaN -> 0)."""
    if fraction != fraction:  # NaN
        return 0.0
    return min(max(float(fraction), 0.0), 1.0)


def scaled(progress: Progress, start: float, end: float, prefix: str = "") -> Progress:
    """A callback that maps 0-1 onto ``start``-``end`` of ``progress`` (for a step of a larger job)."""

    def step(fraction: float, message: str) -> None:
        progress(start + (end - start) * clamp(fraction), prefix + message)

    return step


def counted(progress: Progress, verb: str) -> "CountProgress":
    """Adapt ``progress`` to ``(done, total)`` counters, e.g. "Embedding 300/1,000 texts"."""

    def step(done: int, total: int) -> None:
        progress(done / total if total else 1.0, f"{verb} {done:,}/{total:,}")

    return step


class CountProgress(Protocol):
    """A counter callback ``(done, total)``; build one from a :class:`Progress` with :func:`counted`."""

    def __call__(self, done: int, total: int) -> None: ...
