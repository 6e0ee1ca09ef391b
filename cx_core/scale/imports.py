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


def check_run_dir(raw: str, allowed_dirs: str) -> Path:
    """The run folder a user typed (the folder, or its ``manifest.json``), resolved, when its
    manifest and every shard are readable files inside ``ingest.allowed_dirs``; else
    :class:`~cx_core.ingest.server_paths.ServerPathRefused` with the one message typed file paths get."""
    from cx_core.ingest.server_paths import ServerPathRefused, check_server_path
    from cx_core.scale.manifest import MANIFEST

    text = (raw or "").strip()
    if not text:
        raise ServerPathRefused()
    target = text if Path(text).name == MANIFEST else str(Path(text) / MANIFEST)
    folder = check_server_path(target, allowed_dirs).parent
    extra = [folder / SEGMENT_INFO] if (folder / SEGMENT_INFO).exists() else []
    for f in [*shard_files(folder), *extra]:
        check_server_path(str(f), allowed_dirs)  # a shard linked out of the allowed folders
    return folder


def run_summary(manifest: dict[str, Any]) -> list[str]:
    """Plain lines describing a finished run (what the Data page shows before an import)."""
    from cx_core.scale.manifest import FORMATS

    counts = manifest.get("counts", {})
    lines = [
        f"{FORMATS[manifest['format']].capitalize()} · run {manifest['run_id']}",
        f"{counts.get('rows', 0):,} rows in {counts.get('shards', 0)} shards · finished "
        f"{manifest.get('finished', '?')} · {manifest.get('seconds', '?')} s on Ray "
        f"{manifest.get('ray_version', '?')}",
    ]
    kind = kind_of(manifest)
    if kind == "embed":
        model = (manifest.get("review_model") or {}).get("model_id")
        lines.append(
            f"{counts.get('encoded', 0):,} texts embedded, {counts.get('scored', 0):,} reviews scored"
            + (f" with review model {model}" if model else "")
        )
    elif kind == "profiles":
        m = manifest.get("metrics", {})
        lines.append(
            f"{m.get('customers', 0):,} customers, orders {m.get('window_start')} .. {m.get('window_end')}"
        )
    else:
        sample = manifest.get("config", {}).get("sample", {})
        lines.append(
            f"{manifest.get('metrics', {}).get('n_segments', 0)} segments, fitted on {sample.get('units', 0):,} "
            f"of {sample.get('of', 0):,} units (the rest placed)"
        )
    return lines


def import_message(res: Any) -> str:
    """One line saying what an import brought in (:class:`~cx_core.scale.store.ImportResult`)."""
    if res.kind == "profiles":
        return f"Imported {res.rows:,} customer profiles (run {res.run_id}); the Customers page shows them."
    if res.kind == "segments":
        return f"Imported {res.rows:,} segmented customers (run {res.run_id}); the Segments page shows them."
    scores = f" and {res.scores:,} review scores (run {res.scores_run_id})" if res.scores_run_id else ""
    return f"Imported {res.vectors_new:,} new review vectors{scores}."
