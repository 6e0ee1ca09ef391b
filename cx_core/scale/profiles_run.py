"""Customer profiles on Ray: order lines (Parquet/CSV) in, profile shards + ``manifest.json`` out.

Three passes, streaming over the order lines: (1) the day range of every block (tiny rows to the
driver: the cutoffs and churn horizon follow from it); (2) lines hash-partitioned by customer ->
``groupby(_part).map_groups`` -> one row per customer (RFM summary, churn features per cutoff),
written as Parquet under ``_work/``; then, on the driver, the fits that need every customer (BG/NBD,
Gamma-Gamma, RFM quintiles, churn classifier) on those per-customer rows; (3) a pool of scoring
actors -> profile shards. The order lines never reach the driver.
"""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from cx_core.customers.profiles import METHOD, ProfileSettings
from cx_core.progress import Progress, no_progress
from cx_core.scale import stats
from cx_core.scale.inputs import expand_inputs
from cx_core.scale.manifest import PROFILES_FORMAT, count_rows, shard_dir, write_manifest
from cx_core.scale.orders import PART, add_partition, day_range, order_mapping
from cx_core.scale.profiles import (
    ProfileModels,
    ProfilePlan,
    day_date,
    day_number,
    fit_clv,
    global_columns,
    make_plan,
    partition_rows,
    score_partition,
)
from cx_core.scale.run import (
    ACTOR_RETRIES,
    STATS_DIR,
    TASK_RETRIES,
    connect,
    plan_workers,
    prepare_out_dir,
    read_rows,
)

WORK_DIR = "_work"
#: order lines per block of the read and partition passes
BATCH_LINES = 100_000


@dataclass(frozen=True)
class ProfileScaleSettings:
    """One profile run: inputs, output folder, the profile settings, cluster."""

    inputs: tuple[str, ...]
    out_dir: str
    profile: ProfileSettings = field(default_factory=ProfileSettings)
    mapping: dict[str, str | None] = field(default_factory=dict)
    address: str | None = None
    num_cpus: int | None = None
    workers: int | None = None  # scoring actors (None: one per CPU)
    partitions: int | None = None  # customer partitions (None: 4 per CPU)


def batch_day_range(batch: pd.DataFrame, mapping: dict, cutoff_day: int | None) -> pd.DataFrame:
    """Pass 1 (per block): the day range row."""
    return day_range(batch, mapping, cutoff_day)


def partition_task(orders: pd.DataFrame, plan: ProfilePlan, stats_dir: str) -> pd.DataFrame:
    """Pass 2 (per customer partition): one row per customer."""
    out = partition_rows(orders, plan)
    stats.record(stats_dir, "partition", len(orders))
    return out


class ProfileScorer:
    """Pass 3 actor: holds the fitted models and the per-customer global columns once."""

    def __init__(
        self, models: ProfileModels, settings: ProfileSettings, extra_ref: Any, stats_dir: str
    ) -> None:
        import ray

        self.models, self.settings, self.stats_dir = models, settings, stats_dir
        self.extra = ray.get(extra_ref[0])

    def __call__(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Profile rows of one block of customers."""
        out = score_partition(rows, self.models, self.settings, self.extra)
        stats.record(self.stats_dir, "score", len(rows))
        return out


def run_profiles(settings: ProfileScaleSettings, progress: Progress = no_progress) -> dict[str, Any]:
    """Profile the customers of the order lines on Ray; returns the manifest (also written)."""
    import ray
    import ray.data

    started, t0 = datetime.now(), time.perf_counter()
    files = expand_inputs(settings.inputs)
    out = prepare_out_dir(settings.out_dir)
    work = out / WORK_DIR
    shutil.rmtree(work, ignore_errors=True)
    progress(0.02, f"Connecting to Ray ({settings.address or 'local'})")
    owned = connect(settings.address, settings.num_cpus)
    t0 = time.perf_counter()  # the run's seconds leave out starting a local Ray
    try:
        resources = ray.cluster_resources()
        cpus = int(resources.get("CPU", 1))
        workers = plan_workers(resources, settings.workers)
        parts = settings.partitions or max(2, 4 * cpus)
        ds = read_rows(files)
        mapping = order_mapping(ds.schema().names, settings.mapping)
        progress(0.05, "Reading the order days")
        days = ds.map_batches(
            batch_day_range,
            batch_size=BATCH_LINES,
            batch_format="pandas",
            fn_kwargs={"mapping": mapping, "cutoff_day": day_number(settings.profile.cutoff)},
            **TASK_RETRIES,
        ).to_pandas()
        plan = make_plan(settings.profile, days)
        progress(0.15, f"Summarising customers in {parts} partitions")
        stats_dir = str(out / STATS_DIR)
        ds.map_batches(
            add_partition,
            batch_size=BATCH_LINES,
            batch_format="pandas",
            fn_kwargs={"mapping": mapping, "partitions": parts},
            **TASK_RETRIES,
        ).groupby(PART, num_partitions=parts).map_groups(
            partition_task,
            batch_format="pandas",
            fn_kwargs={"plan": plan, "stats_dir": stats_dir},
            **TASK_RETRIES,
        ).write_parquet(str(work))
        t_partitions = time.perf_counter() - t0
        progress(0.55, "Fitting BG/NBD, Gamma-Gamma and the churn model on the customer rows")
        rows = pd.read_parquet(work).sort_values("customer_id", ignore_index=True)
        models = fit_clv(rows, settings.profile)
        extra, churn_metrics = global_columns(rows, settings.profile, plan)
        window = (
            day_date(int(days["first_day"].min())),
            str(pd.Timestamp(rows["last_purchase"].max()).date()),
        )
        customers = len(rows)
        del rows
        t_fit = time.perf_counter() - t0 - t_partitions
        progress(0.75, f"Scoring {customers:,} customers on {workers.workers} worker(s)")
        extra_ref = [ray.put(extra)]  # in a list: Ray passes the reference, not the frame
        ray.data.read_parquet(str(work)).map_batches(
            ProfileScorer,
            batch_format="pandas",
            fn_constructor_kwargs={
                "models": models,
                "settings": settings.profile,
                "extra_ref": extra_ref,
                "stats_dir": stats_dir,
            },
            compute=ray.data.ActorPoolStrategy(size=workers.workers),
            num_cpus=workers.num_cpus,
            **ACTOR_RETRIES,
        ).write_parquet(str(shard_dir(out)))
        seconds = time.perf_counter() - t0
    finally:
        if owned:
            ray.shutdown()
    counts = count_rows(out)
    metrics = {
        "customers": customers,
        **models.metrics,
        "churn": churn_metrics,
        "text": {"skipped": "review text signals are not used by a scale profile run"},
        "window_start": window[0],
        "window_end": window[1],
        "method": METHOD,
        "settings": asdict(settings.profile),
    }
    manifest = {
        "format": PROFILES_FORMAT,
        "run_id": f"sp_{started:%Y%m%d_%H%M%S}_{uuid.uuid4().hex[:6]}",
        "inputs": files,
        "mapping": mapping,
        "settings": asdict(settings.profile),
        "plan": asdict(plan),
        "metrics": metrics,
        "cluster": {"address": settings.address or "local", "resources": resources, "partitions": parts},
        "ray_version": ray.__version__,
        "counts": counts,
        "lines": int(days["lines"].sum()),
        "seconds": round(seconds, 2),
        "timings_s": {"partitions": round(t_partitions, 2), "fit": round(t_fit, 2)},
        "workers": stats.read_stats(out / STATS_DIR),
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now().isoformat(timespec="seconds"),
    }
    shutil.rmtree(out / STATS_DIR, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    write_manifest(out, manifest)
    progress(1.0, f"Wrote {counts['rows']:,} customer profiles in {counts['shards']} shards")
    return manifest
