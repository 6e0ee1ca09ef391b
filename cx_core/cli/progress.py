"""What every CLI command shares: the terminal progress bar and the handler type."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

#: a sub-command: ``fn(workspace, parsed args, config) -> exit code``
Handler = Callable[[Any, argparse.Namespace, Any], int]


def progress_bar(frac: float, msg: str) -> None:
    """A one-line terminal progress bar on stderr (a newline once ``frac`` reaches 1)."""
    width = 30
    done = int(width * min(max(frac, 0.0), 1.0))
    sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] {frac:4.0%} {msg[:48]:<48}")
    if frac >= 1.0:
        sys.stderr.write("\n")
    sys.stderr.flush()
