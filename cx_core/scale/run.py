"""Embed + score review rows on Ray: Parquet/CSV in, Parquet shards and ``manifest.json`` out.

The pipeline streams (Ray Data): ``read_parquet``/``read_csv`` -> blocks of ``batch_rows`` rows ->
``map_batches`` over a pool of :class:`~cx_core.scale.worker.EmbedScoreWorker` actors (one GPU each
when the cluster has GPUs, CPU actors otherwise) -> ``write_parquet``. Nothing is materialised on
the driver. Inputs and ``out_dir`` must be reachable under the same path from every node (shared
storage) when running on a cluster.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cx_core.config import ModelConfig
from cx_core.progress import Progress, no_progress
from cx_core.scale.inputs import expand_inputs, input_format, review_mapping
from cx_core.scale.manifest import FORMAT, count_shards, shard_dir, write_manifest

#: rows per block and per actor call; the encoder packs them into token-budget model calls
BATCH_ROWS = 1024
STATS_DIR = "_workers"
#: a block whose task died (worker process killed, node lost) is run again, up to this many times.
#: Ray 2.60 deprecates every way of passing these (plain keyword or ``ray_remote_args_fn``) with no
#: replacement yet; without them Ray's defaults apply (tasks: 3 retries; actors: no limit)
TASK_RETRIES = {"max_retries": 3}
#: an actor that died is restarted and its pending batches retried, up to this many times
ACTOR_RETRIES = {"max_restarts": 3, "max_task_retries": 3}


@dataclass(frozen=True)
class ScaleSettings:
    """One embed + score run: inputs, output folder, encoder, optional review model, cluster."""

    inputs: tuple[str, ...]
    out_dir: str
    model: ModelConfig = field(default_factory=ModelConfig)
    review_model: str | None = None  # a saved review model folder: scores too
    mapping: dict[str, str | None] = field(default_factory=dict)  # field -> column overrides
    dataset_id: str | None = None  # constant dataset id when the rows have no dataset_id column
    known: str | None = None  # Parquet of text hashes (+ vec) already embedded: not embedded again
    address: str | None = None  # None: start a local Ray here; "auto" or "ray://host:10001"
    num_cpus: int | None = None  # CPUs of the local Ray (None: all)
    workers: int | None = None  # actors (None: one per GPU, else one per CPU)
    batch_rows: int = BATCH_ROWS


@dataclass(frozen=True)
class WorkerPlan:
    """How many actors, with what resources, on which device."""

    workers: int
    device: str
    num_cpus: float
    num_gpus: float
    threads: int


def plan_workers(resources: dict[str, float], workers: int | None = None) -> WorkerPlan:
    """Actors for the cluster's ``resources``: one per GPU (``num_gpus=1``) when there are GPUs; else
    one per CPU, leaving one CPU for reading and writing (Ray Data's read and write tasks need it)."""
    gpus, cpus = int(resources.get("GPU", 0)), float(resources.get("CPU", 1))
    if gpus:
        n = max(1, min(workers or gpus, gpus))
        return WorkerPlan(n, "cuda", max(1.0, (cpus - 1) // n), 1.0, max(1, int((cpus - 1) // n)))
    n = max(1, workers or int(cpus))
    per = max(0.25, (cpus - 1) / n) if cpus > 1 else 0.5
    return WorkerPlan(n, "cpu", round(per, 3), 0.0, max(1, int(cpus // n)))


def project_root() -> str:
    """The folder holding the ``cx_core`` package (put on the workers' PYTHONPATH locally)."""
    return str(Path(__file__).resolve().parents[2])


def connect(address: str | None, num_cpus: int | None) -> bool:
    """Start a local Ray (``address`` None) or join a cluster; returns whether this call started
    it (then the caller shuts it down). An already initialised Ray is used as it is."""
    import ray

    if ray.is_initialized():
        return False
    env = {
        "env_vars": {
            "PYTHONPATH": os.pathsep.join(p for p in (project_root(), os.environ.get("PYTHONPATH", "")) if p)
        }
    }
    if address:
        ray.init(address=address, runtime_env=env, log_to_driver=False)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, runtime_env=env, log_to_driver=False)
    return True


def read_rows(files: list[str]) -> Any:
    """The input files as a Ray dataset (Parquet or CSV, chosen by the first file's name)."""
    import ray.data

    parallel_map_tasks(ray.data.DataContext.get_current())
    if input_format(files[0]) == "parquet":
        return ray.data.read_parquet(files)
    return ray.data.read_csv(files)


def parallel_map_tasks(ctx: Any) -> None:
    """Let the map tasks of a run use every CPU of a small cluster (Ray 2.60 defaults measured on
    a 2-CPU local Ray, 1M units placed from 8 Parquet files).

    * The new Parquet datasource lists all files in one task and fed the map one block at a
      time: every placement task ran in one worker process. The classic reader makes one read
      task per file group.
    * Per-operator resource reservation kept half the CPUs for the write operator: placement still
      ran 19 of 20 blocks in one process (51 s); without it the blocks split 9 / 11 over both
      (32 s).
    """
    if hasattr(ctx, "use_datasource_v2"):
        ctx.use_datasource_v2 = False
    if hasattr(ctx, "op_resource_reservation_enabled"):
        ctx.op_resource_reservation_enabled = False


def review_model_info(path: str | None) -> dict[str, Any] | None:
    """Id, mode, sentiment method and labels of a saved review model (its config.json)."""
    if not path:
        return None
    cfg_file = Path(path) / "config.json"
    if not cfg_file.is_file():
        raise ValueError(f"Not a saved review model (no config.json): {path}")
    cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
    return {
        "model_id": cfg["model_id"],
        "mode": cfg["mode"],
        "dir": str(Path(path).resolve()),
        "sentiment_method": cfg.get("meta", {}).get("sentiment_method", "supervised"),
        "sentiment_labels": list(cfg["heads"]["sentiment"]),
        "encoder_id": cfg.get("encoder", {}).get("encoder_id"),
    }


def prepare_out_dir(out_dir: str) -> Path:
    """An empty output folder (an earlier unfinished run's shards are removed; a finished run is
    refused, so a run is never mixed into another's shards)."""
    out = Path(out_dir)
    if (out / "manifest.json").exists():
        raise ValueError(f"{out} already holds a finished run: give a new --out folder.")
    for sub in (shard_dir(out), out / STATS_DIR):
        if sub.exists():
            shutil.rmtree(sub)
    out.mkdir(parents=True, exist_ok=True)
    return out


def run_embed_score(settings: ScaleSettings, progress: Progress = no_progress) -> dict[str, Any]:
    """Run embed (+ score) over the inputs on Ray; returns the manifest (also written to
    ``out_dir/manifest.json`` once every shard is written)."""
    import ray
    import ray.data

    started = datetime.now()
    files = expand_inputs(settings.inputs)
    info = review_model_info(settings.review_model)
    out = prepare_out_dir(settings.out_dir)
    progress(0.02, f"Connecting to Ray ({settings.address or 'local'})")
    owned = connect(settings.address, settings.num_cpus)
    try:
        resources = ray.cluster_resources()
        plan = plan_workers(resources, settings.workers)
        ds = read_rows(files)
        mapping = review_mapping(ds.schema().names, settings.mapping, settings.dataset_id)
        if info and not mapping.get("dataset_id") and not settings.dataset_id:
            raise ValueError("Scores need a dataset id: give --dataset-id or a dataset_id column.")
        model = ModelConfig(**{**asdict(settings.model), "threads": settings.model.threads or plan.threads})
        progress(0.05, f"Embedding on {plan.workers} {plan.device} worker(s)")
        t0 = time.perf_counter()
        ds = ds.repartition(target_num_rows_per_block=settings.batch_rows).map_batches(
            worker_class(),
            batch_size=settings.batch_rows,
            batch_format="pandas",
            fn_constructor_kwargs={
                "model": model,
                "review_model_dir": info["dir"] if info else None,
                "known_path": str(Path(settings.known).resolve()) if settings.known else None,
                "mapping": mapping,
                "dataset_id": settings.dataset_id,
                "device": plan.device,
                "stats_dir": str(out / STATS_DIR),
            },
            compute=ray.data.ActorPoolStrategy(size=plan.workers),
            num_cpus=plan.num_cpus,
            num_gpus=plan.num_gpus or None,
            **ACTOR_RETRIES,
        )
        ds.write_parquet(str(shard_dir(out)))
        seconds = time.perf_counter() - t0
    finally:
        if owned:
            ray.shutdown()
    counts = count_shards(out)
    manifest = {
        "format": FORMAT,
        "run_id": f"sc_{started:%Y%m%d_%H%M%S}_{uuid.uuid4().hex[:6]}",
        "inputs": files,
        "mapping": mapping,
        "dataset_id": settings.dataset_id,
        "known": settings.known,
        "encoder": {**asdict(settings.model), "model_ids": counts.pop("model_ids")},
        "review_model": info,
        "cluster": {"address": settings.address or "local", "resources": resources, **asdict(plan)},
        "ray_version": ray.__version__,
        "batch_rows": settings.batch_rows,
        "counts": counts,
        "seconds": round(seconds, 2),
        "rows_per_s": round(counts["rows"] / seconds, 1) if seconds else None,
        "workers": worker_stats(out),
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now().isoformat(timespec="seconds"),
    }
    write_manifest(out, manifest)
    progress(1.0, f"Wrote {counts['rows']:,} rows in {counts['shards']} shards")
    return manifest


def worker_class() -> type:
    """The actor class (imported here so that importing this module does not import torch)."""
    from cx_core.scale.worker import EmbedScoreWorker

    return EmbedScoreWorker


def worker_stats(out: Path) -> list[dict[str, Any]]:
    """What each worker reported (rows, batches, busy seconds, peak RSS), then the files go."""
    folder = out / STATS_DIR
    stats = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
    shutil.rmtree(folder, ignore_errors=True)
    return stats
