"""Per-thread stdout/stderr: a CLI command run inside the app writes to its own files.

``sys.stdout``/``sys.stderr`` are replaced once by proxies that write to the current thread's target
when one is set (``captured(out, err)``), else to the original stream; other threads of the server
are unaffected.
"""

from __future__ import annotations

import io
import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, TextIO

_local = threading.local()
_install_lock = threading.Lock()


class _ThreadStream(io.TextIOBase):
    """Writes to this thread's target stream, else to the stream it replaced."""

    def __init__(self, name: str, default: TextIO) -> None:
        self.name = name
        self.default = default

    def _target(self) -> TextIO:
        return getattr(_local, self.name, None) or self.default

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.default.fileno()


def _install() -> None:
    with _install_lock:
        if not isinstance(sys.stdout, _ThreadStream):
            sys.stdout = _ThreadStream("stdout", sys.stdout)
        if not isinstance(sys.stderr, _ThreadStream):
            sys.stderr = _ThreadStream("stderr", sys.stderr)


@contextmanager
def captured(
    out: TextIO, err: TextIO, progress: Callable[[float, str], None] | None = None
) -> Iterator[None]:
    """Within the block, this thread's prints go to ``out``/``err`` and progress bars also to ``progress``."""
    _install()
    _local.stdout, _local.stderr, _local.progress = out, err, progress
    try:
        yield
    finally:
        _local.stdout = _local.stderr = _local.progress = None


def progress_hook() -> Callable[[float, str], None] | None:
    """The current thread's extra progress receiver (a job's tracker), if any."""
    return getattr(_local, "progress", None)
