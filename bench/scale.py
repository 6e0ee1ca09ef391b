"""The scale stages in-process vs on Ray (local 2 workers, or a cluster): rows/s per stage, the
throughput ratio, peak RSS per process (in-process, Ray driver, each Ray worker). Prints JSON.

    nice -n 10 python bench/scale.py --rows 1000000 --embed-rows 20000     # local Ray, 2 CPUs
    python bench/scale.py --rows 10000000 --embed-rows 1000000 --address auto --work /shared/bench

Stages: ``embed`` (texts; 1M texts on 2 CPU cores take hours, so ``--embed-rows`` is separate),
``profiles`` (``--rows`` order lines, ~10 per customer) and ``place`` (``--rows`` units: the segment
pipeline is fitted on a ``--sample`` of them, the rest placed). Every measurement runs in a process
of its own (spawned), so each peak RSS is that process's. The in-process baselines are what a user
runs without a cluster: ``TextEncoder.encode`` over the unique texts; ``compute_profiles`` on the
order lines; ``fit_sample`` + ``NeighbourPlacer.place`` on all units in one process.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from cx_core.config import ModelConfig  # noqa: E402

OPENERS = (
    "Love this",
    "Really disappointed with this",
    "Decent",
    "Not sure about this",
    "Great value",
    "Terrible",
    "Pretty good",
    "Returned this",
)
ITEMS = ("dress", "jacket", "pair of jeans", "sweater", "top", "skirt", "coat", "blouse")
DETAILS = (
    "the fit is perfect",
    "it runs small",
    "the fabric feels cheap",
    "the colour faded after a wash",
    "shipping took two weeks",
    "the price was fair",
    "the stitching came apart",
    "it is very comfortable",
    "customer service never replied",
    "I get compliments every time",
)


def synthetic_reviews(n: int, seed: int = 7) -> pd.DataFrame:
    """``n`` review rows with varied texts (opener, item, one to three details, an order number)."""
    rng = np.random.default_rng(seed)
    texts = []
    for i in range(n):
        parts = rng.choice(len(DETAILS), size=int(rng.integers(1, 4)), replace=False)
        texts.append(
            f"{OPENERS[rng.integers(len(OPENERS))]} {ITEMS[rng.integers(len(ITEMS))]}: "
            + ", ".join(DETAILS[p] for p in parts)
            + f". Order {rng.integers(10**6)}."
        )
    return pd.DataFrame({"review_id": [f"r{i:08d}" for i in range(n)], "text": texts})


def peak_rss_mb() -> float:
    """Peak resident memory of this process (MiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def in_process(files: list[str], model: ModelConfig) -> dict:
    """Encode every unique text of the files in this (child) process."""
    from cx_core.text.encoder import TextEncoder

    t0 = time.perf_counter()
    texts = pd.concat([pd.read_parquet(f, columns=["text"]) for f in files])["text"].tolist()
    encoder = TextEncoder.from_config(model).load()
    load_s = time.perf_counter() - t0
    unique = list(dict.fromkeys(texts))
    t1 = time.perf_counter()
    encoder.encode(unique)
    encode_s = time.perf_counter() - t1
    total = time.perf_counter() - t0
    return {
        "rows": len(texts),
        "unique_texts": len(unique),
        "load_s": round(load_s, 2),
        "encode_s": round(encode_s, 2),
        "seconds": round(total, 2),
        "rows_per_s": round(len(texts) / total, 1),
        "encode_rows_per_s": round(len(unique) / encode_s, 1),
        "model_id": encoder.identify(),
        "threads": encoder.threads,
        "peak_rss_mb": peak_rss_mb(),
    }


def on_ray(files: list[str], out: Path, model: ModelConfig, args: argparse.Namespace) -> dict:
    """The Ray path over the same files."""
    from cx_core.scale.run import ScaleSettings, run_embed_score

    t0 = time.perf_counter()
    manifest = run_embed_score(
        ScaleSettings(
            inputs=tuple(files),
            out_dir=str(out),
            model=model,
            dataset_id="bench",
            address=args.address,
            num_cpus=args.num_cpus,
            workers=args.workers,
            batch_rows=args.batch_rows,
            review_model=args.review_model,
        )
    )
    total = time.perf_counter() - t0
    workers = manifest["workers"]
    return {
        "rows": manifest["counts"]["rows"],
        "seconds": round(total, 2),
        "pipeline_s": manifest["seconds"],
        "rows_per_s": round(manifest["counts"]["rows"] / total, 1),
        "cluster": manifest["cluster"],
        "ray_version": manifest["ray_version"],
        "worker_load_s": [w.get("load_s") for w in workers],
        "worker_busy_s": [w.get("busy_s") for w in workers],
        "worker_rows": [w.get("rows") for w in workers],
        "worker_peak_rss_mb": [w.get("peak_rss_mb") for w in workers],
        "driver_peak_rss_mb": peak_rss_mb(),
        "model_ids": manifest["encoder"]["model_ids"],
    }


def synthetic_orders(n: int, seed: int = 11) -> pd.DataFrame:
    """About ``n`` order lines of ``n // 10`` customers over two years (returns, churners)."""
    rng = np.random.default_rng(seed)
    customers = max(n // 10, 50)
    cust = np.sort(rng.integers(0, customers, n))
    first = rng.integers(0, 600, customers)
    span = rng.integers(1, 730, customers)
    day = first[cust] + (rng.random(n) * np.minimum(span[cust], 730 - first[cust])).astype(int)
    amount = np.round(rng.gamma(2.0, 25.0, n), 2)
    ret = rng.random(n) < 0.04
    ts = (
        pd.Timestamp("2024-01-01")
        + pd.to_timedelta(day, unit="D")
        + pd.to_timedelta(rng.integers(8, 20, n), unit="h")
    )
    return pd.DataFrame(
        {
            "customer_id": [f"c{c:07d}" for c in cust],
            "order_id": [f"o{c:07d}-{d}" for c, d in zip(cust, day)],
            "ts": ts,
            "amount": np.where(ret, -amount, amount),
            "is_return": ret,
        }
    )


def synthetic_units(n: int, seed: int = 13) -> pd.DataFrame:
    """``n`` customer units with profile behaviour columns from 6 hidden groups."""
    rng = np.random.default_rng(seed)
    centre = rng.normal(0, 2, (6, 7))
    x = centre[rng.integers(0, 6, n)] + rng.normal(0, 1, (n, 7))
    return pd.DataFrame(
        {
            "customer_id": [f"u{i:08d}" for i in range(n)],
            "recency_days": np.exp(x[:, 0] / 2 + 3),
            "n_orders": np.round(np.exp(x[:, 1] / 3 + 1)),
            "revenue": np.exp(x[:, 2] / 2 + 4),
            "aov": np.exp(x[:, 3] / 3 + 3),
            "tenure_days": np.exp(x[:, 4] / 3 + 5),
            "return_rate": 1 / (1 + np.exp(-x[:, 5] - 2)),
            "p_alive": 1 / (1 + np.exp(-x[:, 6])),
            "clv": np.exp(x[:, 2] / 2 + 3),
        }
    )


def write_parts(frame: pd.DataFrame, folder: Path, name: str, files: int) -> list[str]:
    """``frame`` as ``files`` Parquet files in ``folder``."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    step = -(-len(frame) // files)
    out = []
    for k in range(files):
        f = folder / f"{name}-{k:03d}.parquet"
        frame.iloc[k * step : (k + 1) * step].to_parquet(f, index=False)
        out.append(str(f))
    return out


def make_inputs(work: str, rows: int, embed_rows: int, files: int, stages: list[str]) -> dict:
    """Write the synthetic inputs (in a child process, so no measured process holds them)."""
    w = Path(work)
    out = {}
    if "embed" in stages:
        out["embed"] = write_parts(synthetic_reviews(embed_rows), w / "reviews", "reviews", files)
    if "profiles" in stages:
        out["profiles"] = write_parts(synthetic_orders(rows), w / "orders", "orders", files)
    if "place" in stages:
        out["place"] = write_parts(synthetic_units(rows), w / "units", "units", files)
    return out


def profiles_in_process(files: list[str]) -> dict:
    """``compute_profiles`` over all order lines in this process."""
    from cx_core.customers.profiles import ProfileSettings, compute_profiles

    t0 = time.perf_counter()
    orders = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    profiles, metrics = compute_profiles(orders, ProfileSettings())
    total = time.perf_counter() - t0
    return {
        "rows": len(orders),
        "customers": len(profiles),
        "seconds": round(total, 2),
        "rows_per_s": round(len(orders) / total, 1),
        "churn": metrics["churn"].get("method", metrics["churn"].get("skipped")),
        "peak_rss_mb": peak_rss_mb(),
    }


def place_in_process(files: list[str], sample: int, seed: int) -> dict:
    """The same sample fitted, then every other unit placed, in this process."""
    from cx_core.scale.segments import feature_columns, fit_sample, keyed_batch, place_batch, take_sample
    from cx_core.segments.run import SegmentSettings

    t0 = time.perf_counter()
    units = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    features = feature_columns(units.columns)
    settings = SegmentSettings(unit="customer", seed=seed)
    values = [c for c in ("revenue", "clv", "churn_prob", "p_alive") if c in units and c not in features]
    keyed = keyed_batch(units, "customer_id", features + values, seed, 1.0)
    sf = fit_sample(take_sample(keyed, sample), features, settings)
    t1 = time.perf_counter()
    placed = place_batch(units, sf, "customer_id")
    total = time.perf_counter() - t0
    return {
        "rows": len(units),
        "sample": sf.inputs.n,
        "fit_s": round(t1 - t0, 2),
        "place_s": round(total - (t1 - t0), 2),
        "seconds": round(total, 2),
        "rows_per_s": round(len(units) / total, 1),
        "segments": int(placed["segment_id"].max() + 1),
        "peak_rss_mb": peak_rss_mb(),
    }


def ray_stage(stage: str, files: list[str], out: str, args: dict) -> dict:
    """One Ray stage in this (child) process: its manifest's numbers and this driver's peak RSS."""
    t0 = time.perf_counter()
    if stage == "profiles":
        from cx_core.scale.profiles_run import ProfileScaleSettings, run_profiles

        m = run_profiles(
            ProfileScaleSettings(
                inputs=tuple(files),
                out_dir=out,
                address=args["address"],
                num_cpus=args["num_cpus"],
                workers=args["workers"],
            )
        )
        rows = m["lines"]
    else:
        from cx_core.scale.segments_run import SegmentScaleSettings, run_segments
        from cx_core.segments.run import SegmentSettings

        m = run_segments(
            SegmentScaleSettings(
                inputs=tuple(files),
                out_dir=out,
                segments=SegmentSettings(unit="customer", seed=args["seed"]),
                sample=args["sample"],
                address=args["address"],
                num_cpus=args["num_cpus"],
            )
        )
        rows = m["counts"]["rows"]
    total = time.perf_counter() - t0
    return {
        "rows": rows,
        "seconds": round(total, 2),
        "pipeline_s": m["seconds"],
        "rows_per_s": round(rows / m["seconds"], 1),
        "timings_s": m.get("timings_s") or m["metrics"].get("timings_s"),
        "ray_version": m["ray_version"],
        "workers": [
            {k: w[k] for k in ("stage", "pid", "host", "calls", "rows", "peak_rss_mb")} for w in m["workers"]
        ],
        "driver_peak_rss_mb": peak_rss_mb(),
    }


def in_child(fn, *a):
    """``fn(*a)`` in a spawned process of its own."""
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(fn, *a).result()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="order lines (profiles) and units (place)")
    p.add_argument("--embed-rows", type=int, default=20_000, help="texts for the embed stage")
    p.add_argument("--stages", default="embed,profiles,place")
    p.add_argument("--sample", type=int, default=20_000, help="units the segment pipeline is fitted on")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--files", type=int, default=8, help="input Parquet files")
    p.add_argument("--address", help="Ray cluster address (default: a local Ray with --num-cpus)")
    p.add_argument("--num-cpus", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch-rows", type=int, default=1024)
    p.add_argument("--model-dir", default="", help="encoder (default: the packaged MiniLM)")
    p.add_argument("--review-model", help="also score with this saved review model (Ray path only)")
    p.add_argument("--work", help="folder for inputs and outputs (shared storage on a cluster)")
    p.add_argument("--skip-in-process", action="store_true")
    args = p.parse_args()
    stages = [x for x in args.stages.split(",") if x]
    work = Path(args.work or tempfile.mkdtemp(prefix="cx-scale-bench-"))
    inputs = in_child(make_inputs, str(work), args.rows, args.embed_rows, args.files, stages)
    model = replace(ModelConfig(), model_dir=args.model_dir, device="cpu", dtype="float32")
    result = {
        "rows": args.rows,
        "embed_rows": args.embed_rows,
        "embed_note": "embedding 1M texts on 2 CPU cores takes hours: the embed stage runs --embed-rows",
        "sample": args.sample,
        "cpu": os.cpu_count(),
        "address": args.address or "local",
        "load_avg_before": os.getloadavg(),
        "stages": {},
    }
    ray_args = {k: getattr(args, k) for k in ("address", "num_cpus", "workers", "sample", "seed")}
    for stage in stages:
        out = work / f"out-{stage}"
        shutil.rmtree(out, ignore_errors=True)
        res: dict = {"load_avg_before": os.getloadavg()}
        if stage == "embed":
            files = inputs["embed"]
            if not args.skip_in_process:
                res["in_process"] = in_child(in_process, files, model)
            res["ray"] = in_child(on_ray, files, out, model, args)
        else:
            files = inputs[stage]
            if not args.skip_in_process:
                baseline = profiles_in_process if stage == "profiles" else place_in_process
                extra = () if stage == "profiles" else (args.sample, args.seed)
                res["in_process"] = in_child(baseline, files, *extra)
            res["ray"] = in_child(ray_stage, stage, files, str(out), ray_args)
        if "in_process" in res:
            res["throughput_ratio_ray_vs_in_process"] = round(
                res["ray"]["rows_per_s"] / res["in_process"]["rows_per_s"], 3
            )
        res["load_avg_after"] = os.getloadavg()
        result["stages"][stage] = res
        print(json.dumps({stage: res}), file=sys.stderr, flush=True)
    result["load_avg_after"] = os.getloadavg()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
