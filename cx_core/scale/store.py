"""A scale run and the workspace: export the embedding cache for a run, import a finished run.

:func:`import_run` loads a run's shards in ONE transaction: new vectors into ``embeddings`` (keyed
by text hash and encoder id; vectors already cached are kept) and, when the run scored, a new
``review_scores`` run recorded with :func:`cx_core.store.runs.record_run`, so the app shows it like a
local scoring run. Anything failing leaves the workspace as it was.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cx_core.progress import Progress, no_progress
from cx_core.reviews.score import SCORE_COLUMNS
from cx_core.scale.manifest import read_manifest, shard_files
from cx_core.store import runs
from cx_core.store.db import Workspace

#: review_scores columns taken from the shards as they are (the run and model ids are the import's)
_SHARD_SCORE_COLUMNS = tuple(c for c in SCORE_COLUMNS if c not in ("run_id", "model_id"))
EXPORT_BATCH_ROWS = 65_536


@dataclass
class ImportResult:
    """What an import brought in."""

    scale_run_id: str
    kind: str = "embed"  # embed | profiles | segments
    run_id: str | None = None  # the profiles or segments run it became
    rows: int = 0  # customer profiles or segmented units
    vectors_new: int = 0
    vectors_cached: int = 0
    scores_run_id: str | None = None
    scores: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)


def export_known(ws: Workspace, model_id: str, path: str | Path, with_vectors: bool = True) -> int:
    """Write the cached ``text_hash`` (and ``vec``) of encoder ``model_id`` to a Parquet file that a
    scale run reads as ``known`` (streamed in batches); returns the rows written."""
    import pyarrow.parquet as pq

    cols = "text_hash, vec" if with_vectors else "text_hash"
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows, writer = 0, None
    with ws.cursor() as cur:
        reader = cur.sql(
            f"SELECT {cols} FROM embeddings WHERE model_id = ? ORDER BY text_hash", params=[model_id]
        ).to_arrow_reader(EXPORT_BATCH_ROWS)
        try:
            for batch in reader:
                writer = writer or pq.ParquetWriter(str(out), batch.schema)
                writer.write_batch(batch)
                rows += batch.num_rows
            if writer is None:
                writer = pq.ParquetWriter(str(out), reader.schema)
        finally:
            if writer is not None:
                writer.close()
    return rows


def imported_as(ws: Workspace, scale_run_id: str) -> str | None:
    """The review_scores run an earlier import of ``scale_run_id`` created, or None."""
    hist = runs.history(ws, runs.StageName.REVIEW_SCORES)
    for run_id, config in zip(hist["run_id"], hist["config"]):
        if config.get("scale_run_id") == scale_run_id:
            return str(run_id)
    return None


def import_run(ws: Workspace, out_dir: str | Path, progress: Progress = no_progress) -> ImportResult:
    """Load a finished scale run (``out_dir`` with ``manifest.json`` and ``shards/``) into the
    workspace in one transaction: embed runs as vectors (+ a scoring run), profiles and segments
    runs as runs of those stages (:mod:`cx_core.scale.imports`). A run imported before is refused."""
    from cx_core.scale.imports import import_profiles, import_segments, kind_of

    start = time.perf_counter()
    manifest = read_manifest(out_dir)
    files = [str(f) for f in shard_files(out_dir)]
    counts = manifest["counts"]
    if len(files) != counts["shards"]:
        raise ValueError(
            f"{out_dir} holds {len(files)} shards, its manifest says {counts['shards']}: "
            "the folder is incomplete."
        )
    kind = kind_of(manifest)
    if kind != "embed":
        load = import_profiles if kind == "profiles" else import_segments
        run_id, rows = load(ws, out_dir, manifest, progress)
        return ImportResult(manifest["run_id"], kind, run_id, rows)
    info = manifest.get("review_model")
    earlier = imported_as(ws, manifest["run_id"]) if info else None
    if earlier:
        raise ValueError(f"Scale run {manifest['run_id']} was already imported (scoring run {earlier}).")
    result = ImportResult(manifest["run_id"])
    started = datetime.now()
    progress(0.05, f"Importing {counts['rows']:,} rows from {len(files)} shards")
    with ws.write() as cur:
        result.vectors_new, result.vectors_cached = _insert_vectors(cur, files)
        progress(0.6, f"{result.vectors_new:,} new vectors")
        if info and counts.get("scored"):
            result.scores_run_id = f"rs_{started:%Y%m%d_%H%M%S}_{uuid.uuid4().hex[:6]}"
            result.scores, result.metrics = _insert_scores(cur, files, result.scores_run_id, info)
            result.metrics.update(
                {
                    "engine": "ray",
                    "scale_run_id": manifest["run_id"],
                    "cluster_seconds": manifest.get("seconds"),
                    "seconds": round(time.perf_counter() - start, 2),
                }
            )
            runs.record_run(
                cur,
                result.scores_run_id,
                runs.StageName.REVIEW_SCORES,
                result.metrics.pop("dataset_key"),
                scores_config(info, manifest, out_dir),
                started,
                result.metrics,
            )
    progress(1.0, f"Imported {result.vectors_new:,} vectors and {result.scores:,} scores")
    return result


def scores_config(info: dict[str, Any], manifest: dict[str, Any], out_dir: str | Path) -> dict[str, Any]:
    """The ``runs.config`` of an imported scoring run (a local run's keys plus where it came from)."""
    return {
        "model_id": info["model_id"],
        "mode": info["mode"],
        "sentiment_method": info["sentiment_method"],
        "sentiment_labels": info["sentiment_labels"],
        "engine": "ray",
        "scale_run_id": manifest["run_id"],
        "source": str(Path(out_dir).resolve()),
        "ray_version": manifest.get("ray_version"),
    }


def _insert_vectors(cur: Any, files: list[str]) -> tuple[int, int]:
    """Insert the shards' vectors not cached yet; returns (new, already cached)."""
    before = cur.execute("SELECT count(*) FROM embeddings").fetchone()[0]
    offered = cur.execute(
        "SELECT count(*) FROM (SELECT DISTINCT text_hash, model_id FROM read_parquet(?) "
        "WHERE vector IS NOT NULL)",
        [files],
    ).fetchone()[0]
    cur.execute(
        "INSERT OR IGNORE INTO embeddings (text_hash, model_id, vec) "
        "SELECT text_hash, model_id, any_value(vector)::FLOAT[] FROM read_parquet(?) "
        "WHERE vector IS NOT NULL GROUP BY text_hash, model_id",
        [files],
    )
    new = cur.execute("SELECT count(*) FROM embeddings").fetchone()[0] - before
    return int(new), int(offered - new)


def _insert_scores(
    cur: Any, files: list[str], run_id: str, info: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """Insert the scored rows (first row of a repeated review id) under ``run_id``; returns the
    row count and the run's metrics (as a local scoring run has them, plus import facts)."""
    cols = ", ".join(_SHARD_SCORE_COLUMNS)
    cur.execute(
        f"INSERT INTO review_scores (run_id, model_id, {cols}) SELECT ?, ?, {cols} FROM ("
        f"SELECT {cols}, row_number() OVER (PARTITION BY dataset_id, review_id "
        "ORDER BY text_hash) AS k FROM read_parquet(?) WHERE scored) WHERE k = 1",
        [run_id, info["model_id"], files],
    )
    n, mean, risky = cur.execute(
        "SELECT count(*), avg(sentiment_score), avg((risk >= 0.5)::INT) FROM review_scores WHERE run_id = ?",
        [run_id],
    ).fetchone()
    counts = dict(
        cur.execute(
            "SELECT sentiment, count(*) FROM review_scores WHERE run_id = ? "
            "GROUP BY sentiment ORDER BY sentiment",
            [run_id],
        ).fetchall()
    )
    scored = cur.execute("SELECT count(*) FROM read_parquet(?) WHERE scored", [files]).fetchone()[0]
    matched = cur.execute(
        "SELECT count(*) FROM review_scores s JOIN reviews r USING (dataset_id, review_id) "
        "WHERE s.run_id = ?",
        [run_id],
    ).fetchone()[0]
    datasets = [
        r[0]
        for r in cur.execute(
            "SELECT DISTINCT dataset_id FROM review_scores WHERE run_id = ?", [run_id]
        ).fetchall()
    ]
    metrics = {
        "run_id": run_id,
        "reviews": int(n),
        "sentiment_counts": counts,
        "mean_sentiment_score": round(float(mean or 0.0), 4),
        "at_risk_share": round(float(risky or 0.0), 4),
        "newly_scored": int(n),
        "carried": 0,
        "carried_from": None,
        "duplicate_review_ids": int(scored - n),
        "matched_workspace_reviews": int(matched),
        "dataset_key": datasets[0] if len(datasets) == 1 else "all",
    }
    return int(n), metrics
