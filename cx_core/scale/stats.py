"""Per-process counts and peak memory of the Ray workers of a run (the benchmark reports them)."""

from __future__ import annotations

import json
import os
import resource
import socket
from pathlib import Path
from typing import Any


def peak_rss_mb() -> float:
    """Peak resident memory of this process (MiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def record(stats_dir: str | None, stage: str, rows: int) -> None:
    """Add ``rows`` to this process's count for ``stage`` and store its peak RSS, in
    ``stats_dir/<stage>-<host>-<pid>.json`` (one process runs its tasks one after another)."""
    if not stats_dir:
        return
    path = Path(stats_dir) / f"{stage}-{socket.gethostname()}-{os.getpid()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    stats = {
        "stage": stage,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "calls": old.get("calls", 0) + 1,
        "rows": old.get("rows", 0) + int(rows),
        "peak_rss_mb": peak_rss_mb(),
    }
    path.write_text(json.dumps(stats), encoding="utf-8")


def read_stats(stats_dir: str | Path, stage: str | None = None) -> list[dict[str, Any]]:
    """The per-process stats of a run (of one ``stage`` when given)."""
    pattern = f"{stage}-*.json" if stage else "*.json"
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(Path(stats_dir).glob(pattern))]
