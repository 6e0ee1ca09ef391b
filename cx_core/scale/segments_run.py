"""Segments on Ray: unit rows (e.g. the shards of a scale profile run) in, segment shards out.

Pass 1 streams the inputs and keeps only the rows whose seeded sample key is small (a few percent
over ``sample``, so the driver never holds more than about the sample); the driver fits the segment
pipeline on the ``sample`` units with the smallest keys; pass 2 places every unit, partition by
partition, with the placer fitted on the sample (tasks that may run on any node).
"""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cx_core.progress import Progress, no_progress
from cx_core.scale import stats
from cx_core.scale.imports import SEGMENT_INFO
from cx_core.scale.inputs import expand_inputs
from cx_core.scale.manifest import SEGMENTS_FORMAT, count_rows, shard_dir, shard_files, write_manifest
from cx_core.scale.run import STATS_DIR, TASK_RETRIES, connect, prepare_out_dir, read_rows
from cx_core.scale.segments import (
    SampleFit,
    feature_columns,
    fit_sample,
    keyed_batch,
    place_batch,
    take_sample,
)

#: most units fitted in-process (the rest are placed)
SAMPLE_UNITS = 200_000
BATCH_UNITS = 50_000


@dataclass(frozen=True)
class SegmentScaleSettings:
    """One segments run: unit inputs, output folder, the segment settings, sample size, cluster."""

    inputs: tuple[str, ...]
    out_dir: str
    segments: Any = None  # a SegmentSettings (None: the defaults)
    id_column: str = "customer_id"
    features: tuple[str, ...] = ()  # behaviour columns (empty: the profile behaviour columns present)
    sample: int = SAMPLE_UNITS
    address: str | None = None
    num_cpus: int | None = None
    batch_units: int = BATCH_UNITS


def place_task(batch: pd.DataFrame, sf: SampleFit, id_column: str, stats_dir: str | None) -> pd.DataFrame:
    """Pass 2 (per block of units): every unit's segment."""
    out = place_batch(batch, sf, id_column)
    stats.record(stats_dir, "place", len(batch))
    return out


def place_all(ds: Any, sf: SampleFit, id_column: str, stats_dir: str | None, batch_units: int) -> Any:
    """The dataset of every unit's segment (placement tasks, retried when their worker dies)."""
    return ds.map_batches(
        place_task,
        batch_size=batch_units,
        batch_format="pandas",
        fn_kwargs={"sf": sf, "id_column": id_column, "stats_dir": stats_dir},
        **TASK_RETRIES,
    )


def run_segments(settings: SegmentScaleSettings, progress: Progress = no_progress) -> dict[str, Any]:
    """Segment the units on Ray; returns the manifest (also written to ``out_dir``)."""
    import ray

    from cx_core.segments.run import SegmentSettings

    seg = settings.segments or SegmentSettings(unit="customer")
    seg.validate()
    if settings.sample < 20:
        raise ValueError("--sample must be at least 20 units")
    started, t0 = datetime.now(), time.perf_counter()
    files = expand_inputs(settings.inputs)
    out = prepare_out_dir(settings.out_dir)
    stats_dir = str(out / STATS_DIR)
    progress(0.02, f"Connecting to Ray ({settings.address or 'local'})")
    owned = connect(settings.address, settings.num_cpus)
    t0 = time.perf_counter()  # the run's seconds leave out starting a local Ray
    try:
        ds = read_rows(files)
        names = ds.schema().names
        if settings.id_column not in names:
            raise ValueError(f"No unit id column {settings.id_column!r} (columns: {', '.join(names)}).")
        features = feature_columns(names, settings.features)
        n = ds.count()
        keep = 1.0 if n <= settings.sample else min(1.0, 1.05 * settings.sample / n + 20.0 / n)
        progress(0.1, f"Drawing a seeded sample of up to {settings.sample:,} of {n:,} units")
        value_cols = [
            c for c in ("revenue", "clv", "churn_prob", "p_alive") if c in names and c not in features
        ]
        candidates = ds.map_batches(
            keyed_batch,
            batch_size=settings.batch_units,
            batch_format="pandas",
            fn_kwargs={
                "id_column": settings.id_column,
                "features": features + value_cols,
                "seed": seg.seed,
                "keep_below": keep,
            },
            **TASK_RETRIES,
        ).to_pandas()
        if candidates["unit_id"].duplicated().any():
            raise ValueError(f"Unit ids repeat in {settings.id_column!r}: each unit must appear once.")
        sample = take_sample(candidates, settings.sample)
        del candidates
        t_sample = time.perf_counter() - t0
        progress(0.2, f"Fitting segments on {len(sample):,} units")
        sf = fit_sample(sample, features, seg, lambda f, m: progress(0.2 + 0.4 * f, m))
        t_fit = time.perf_counter() - t0 - t_sample
        progress(0.6, f"Placing {max(n - len(sample), 0):,} units")
        place_all(ds, sf, settings.id_column, stats_dir, settings.batch_units).write_parquet(
            str(shard_dir(out))
        )
        seconds = time.perf_counter() - t0
        ray_version = ray.__version__
    finally:
        if owned:
            ray.shutdown()
    info, metrics = full_counts(out, sf, n)
    info.to_parquet(out / SEGMENT_INFO, index=False)
    metrics["timings_s"] = {
        "sample": round(t_sample, 3),
        "fit": round(t_fit, 3),
        **sf.fit.timings,
        "place": round(seconds - t_sample - t_fit, 3),
        "total": round(seconds, 3),
    }
    manifest = {
        "format": SEGMENTS_FORMAT,
        "run_id": f"ss_{started:%Y%m%d_%H%M%S}_{uuid.uuid4().hex[:6]}",
        "inputs": files,
        "config": {
            "settings": asdict(seg),
            "unit_kind": "customer",
            "strategy": "sample+place",
            "inputs": {**sf.inputs.sources, "scale_inputs": files, "id_column": settings.id_column},
            "sample": {"units": len(sample), "of": int(n), "seed": seg.seed},
            **sf.fit.config,
        },
        "metrics": metrics,
        "segments": info[["segment_id", "name", "size", "share"]].to_dict("records"),
        "ray_version": ray_version,
        "counts": {**count_rows(out), "sample": len(sample), "placed": int(n - len(sample))},
        "seconds": round(seconds, 2),
        "workers": stats.read_stats(stats_dir),
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now().isoformat(timespec="seconds"),
    }
    shutil.rmtree(stats_dir, ignore_errors=True)
    write_manifest(out, manifest)
    progress(1.0, f"Segmented {n:,} units into {metrics['n_segments']} segments")
    return manifest


def full_counts(out: Path, sf: SampleFit, n: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The segment table with sizes and shares over ALL units (the rest of the description is the
    sample's) and the run metrics, as a local run reports them."""
    import pyarrow.parquet as pq

    cols = ["segment_id", "is_outlier"]
    t = pd.concat([pq.read_table(f, columns=cols).to_pandas() for f in shard_files(out)], ignore_index=True)
    sizes = t["segment_id"].value_counts()
    info = sf.info.copy()
    info["size"] = info["segment_id"].map(sizes).fillna(0).astype(np.int64)
    info["share"] = info["size"] / max(len(t), 1)
    metrics = {
        "n": int(n),
        "unit_kind": "customer",
        "n_segments": int((info["segment_id"] >= 0).sum()),
        "outlier_share": round(float(np.mean(t["segment_id"] < 0)), 4),
        "noise_share": round(float(t["is_outlier"].mean()), 4),
        "text_coverage": 0.0,
        "strategy": "sample+place",
        "described_on": f"the fitted sample of {sf.inputs.n:,} units (sizes and shares over all {n:,})",
    }
    return info, metrics
