"""What every CLI command shares: the terminal progress bar, the handler type, ``--map`` parsing."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Sequence

#: a sub-command: ``fn(workspace, parsed args, config) -> exit code``
Handler = Callable[[Any, argparse.Namespace, Any], int]


def progress_bar(frac: float, msg: str) -> None:
    """A one-line terminal progress bar on stderr (a newline once ``frac`` reaches 1); inside the app
    (a handed-off command) it also feeds the job's progress."""
    from cx_core.pipeline.capture import progress_hook

    hook = progress_hook()
    if hook is not None:
        hook(frac, msg)
    width = 30
    done = int(width * min(max(frac, 0.0), 1.0))
    sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] {frac:4.0%} {msg[:48]:<48}")
    if frac >= 1.0:
        sys.stderr.write("\n")
    sys.stderr.flush()


def parse_map(pairs: Sequence[str]) -> dict[str, str | None]:
    """``--map field=column`` pairs as a mapping override (``field=`` unmaps the field)."""
    from cx_core.ingest.load import MappingError

    out: dict[str, str | None] = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep:
            raise MappingError([f"--map takes field=column, got {pair!r}"])
        out[field.strip()] = column or None
    return out
