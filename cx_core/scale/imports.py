"""Import a finished profiles or segments scale run: one transaction, recorded like a local run.

A profiles run becomes a ``profiles`` run (rows in ``customer_profiles``; the text columns NULL, as a
local run without review scores), a segments run a ``segments`` run (``segments`` and
``segment_info``), so the Customers and Segments pages show them like local runs. The run's
manifest id is kept in the run's metrics (``scale_run_id``): a second import of it is refused.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from cx_core.progress import Progress, no_progress
from cx_core.scale.manifest import SEGMENTS_FORMAT, shard_files
from cx_core.store import runs
from cx_core.store.db import Workspace

SEGMENT_INFO = "segment_info.parquet"


def imported_from(ws: Workspace, stage: str, scale_run_id: str) -> str | None:
    """The run of ``stage`` an earlier import of ``scale_run_id`` created, or None."""
    hist = runs.history(ws, stage)
    for run_id, metrics in zip(hist["run_id"], hist["metrics"]):
        if metrics.get("scale_run_id") == scale_run_id:
            return str(run_id)
    return None


def scale_facts(manifest: dict[str, Any], out_dir: str | Path, start: float) -> dict[str, Any]:
    """What every imported run's metrics say about where it came from."""
    return {
        "engine": "ray",
        "scale_run_id": manifest["run_id"],
        "source": str(Path(out_dir).resolve()),
        "cluster_seconds": manifest.get("seconds"),
        "ray_version": manifest.get("ray_version"),
        "import_seconds": round(time.perf_counter() - start, 2),
    }


def import_profiles(
    ws: Workspace, out_dir: str | Path, manifest: dict[str, Any], progress: Progress = no_progress
) -> tuple[str, int]:
    """Load a profiles run as a new ``profiles`` run; returns (run id, customers)."""
    from cx_core.customers.profiles import STAGE
    from cx_core.ingest.datasets import dataset_version

    start, started = time.perf_counter(), datetime.now()
    _refuse_twice(ws, STAGE, manifest)
    files = [str(f) for f in shard_files(out_dir)]
    run_id = "run_" + uuid.uuid4().hex[:10]
    progress(0.1, f"Importing {manifest['counts']['rows']:,} customer profiles")
    with ws.write() as cur:
        cur.execute(
            "INSERT INTO customer_profiles BY NAME SELECT *, ? AS run_id FROM read_parquet(?)",
            [run_id, files],
        )
        n = cur.execute("SELECT count(*) FROM customer_profiles WHERE run_id = ?", [run_id]).fetchone()[0]
        metrics = {**manifest["metrics"], **scale_facts(manifest, out_dir, start)}
        runs.record_run(cur, run_id, STAGE, dataset_version(ws), manifest["settings"], started, metrics)
    progress(1.0, f"Imported {n:,} customer profiles as run {run_id}")
    return run_id, int(n)


def import_segments(
    ws: Workspace, out_dir: str | Path, manifest: dict[str, Any], progress: Progress = no_progress
) -> tuple[str, int]:
    """Load a segments run as a new ``segments`` run; returns (run id, units)."""
    from cx_core.ingest.datasets import dataset_version
    from cx_core.segments.run import STAGE

    start, started = time.perf_counter(), datetime.now()
    _refuse_twice(ws, STAGE, manifest)
    files = [str(f) for f in shard_files(out_dir)]
    info = str(Path(out_dir) / SEGMENT_INFO)
    run_id = f"seg_{started:%Y%m%d%H%M%S%f}_{uuid.uuid4().hex[:6]}"
    progress(0.1, f"Importing {manifest['counts']['rows']:,} segmented units")
    with ws.write(timeout_s=30) as cur:
        cur.execute(
            "INSERT INTO segments BY NAME SELECT ? AS run_id, ? AS unit_kind, unit_id, segment_id, "
            "is_outlier, probability, x, y FROM read_parquet(?)",
            [run_id, manifest["config"]["unit_kind"], files],
        )
        cur.execute(
            "INSERT INTO segment_info BY NAME SELECT *, ? AS run_id FROM read_parquet(?)", [run_id, info]
        )
        n = cur.execute("SELECT count(*) FROM segments WHERE run_id = ?", [run_id]).fetchone()[0]
        metrics = {**manifest["metrics"], **scale_facts(manifest, out_dir, start)}
        runs.record_run(cur, run_id, STAGE, dataset_version(ws), manifest["config"], started, metrics)
    progress(1.0, f"Imported {n:,} units in {manifest['metrics']['n_segments']} segments as run {run_id}")
    return run_id, int(n)


def _refuse_twice(ws: Workspace, stage: str, manifest: dict[str, Any]) -> None:
    """ValueError when this scale run was imported before."""
    earlier = imported_from(ws, stage, manifest["run_id"])
    if earlier:
        raise ValueError(f"Scale run {manifest['run_id']} was already imported ({stage} run {earlier}).")


def kind_of(manifest: dict[str, Any]) -> str:
    """``embed``, ``profiles`` or ``segments``."""
    from cx_core.scale.manifest import FORMAT, PROFILES_FORMAT

    return {FORMAT: "embed", PROFILES_FORMAT: "profiles", SEGMENTS_FORMAT: "segments"}[manifest["format"]]
