"""Embedding N synthetic reviews in-process vs on Ray (local 2 workers, or a cluster): rows/s,
throughput ratio, peak RSS per process. Prints JSON.

    nice -n 10 python bench/scale.py --rows 20000            # local Ray, 2 CPU workers
    python bench/scale.py --rows 1000000 --address auto      # the same on a cluster (shared --work)

The in-process baseline is what a user runs without a cluster: one ``TextEncoder.encode`` over the
unique texts with every core (as ``python -m cx_core embed`` does), in a process of its own so its
peak RSS is its own. The Ray path is ``cx_core.scale.run.run_embed_score`` over the same Parquet files.
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=20_000)
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
    work = Path(args.work or tempfile.mkdtemp(prefix="cx-scale-bench-"))
    inputs = work / "inputs"
    shutil.rmtree(inputs, ignore_errors=True)
    inputs.mkdir(parents=True)
    rows = synthetic_reviews(args.rows)
    step = -(-len(rows) // args.files)
    files = []
    for k in range(args.files):
        f = inputs / f"reviews-{k:03d}.parquet"
        rows.iloc[k * step : (k + 1) * step].to_parquet(f, index=False)
        files.append(str(f))
    model = replace(ModelConfig(), model_dir=args.model_dir, device="cpu", dtype="float32")
    result = {"rows": args.rows, "cpu": os.cpu_count(), "load_avg_before": os.getloadavg()}
    if not args.skip_in_process:
        with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
            result["in_process"] = pool.submit(in_process, files, model).result()
    shutil.rmtree(work / "out", ignore_errors=True)
    result["ray"] = on_ray(files, work / "out", model, args)
    if "in_process" in result:
        result["throughput_ratio_ray_vs_in_process"] = round(
            result["ray"]["rows_per_s"] / result["in_process"]["rows_per_s"], 3
        )
    result["load_avg_after"] = os.getloadavg()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
