"""Benchmark: our segmentation pipeline vs umap + hdbscan with library defaults.

For each size, synthetic customers are built (384-D text embeddings around
hierarchical planted topics + 8 RFM-like behaviour columns, planted segments of
unequal size), turned into vectors with ``CustomerFeatureBuilder`` and saved;
then each side runs in its own subprocess (no shared memory or JIT state):

* ours      -- ``make_pipeline(preset, n).fit(X)``  (default preset: "fast")
* defaults  -- ``umap.UMAP().fit_transform(X)`` + ``hdbscan.HDBSCAN().fit(emb)``

Wall seconds include interpreter start-up, imports, JIT and loading the
vectors; peak RSS comes from ``os.wait4`` on the child.  Before timing, "ours"
runs once on 2,000 rows so numba's on-disk cache (``--cache-dir``) is warm;
that first process is reported as ``warmup_s``.  Agreement: ARI of each side
vs the planted truth and between the two labelings; because HDBSCAN's default
``min_cluster_size=5`` shatters 100k rows into hundreds of micro-clusters, the
defaults' 2-D embedding is also clustered with our HDBSCAN settings
(``defaults_matched``) to compare partitions at the same granularity.

Real-data figure (``--demo 7,11``): the demo store's customers (seed 7 and
11, 3,000 customers, reviews embedded with the real MiniLM, profiles computed)
are turned into the vectors ``run_segmentation`` clusters (reviewers: text +
behaviour) and both sides run on those same vectors; customers without
reviews are then placed by behaviour for both sides alike, and ARI is
reported vs the hidden groups over reviewers and over all customers.

``--pipeline-seeds 30`` adds, per demo store, our pipeline over seeds 0..29
(mean, min and runs below 0.7 ARI), next to the same with 10 UMAP neighbours.

Usage: python bench/segment.py [--sizes 10000,100000] [--preset fast] [--skip-defaults]
       python bench/segment.py --sizes '' --demo 7,11 [--demo-customers 3000] [--pipeline-seeds 30]
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BEHAVIOUR = [
    "recency_days",
    "orders",
    "revenue",
    "avg_order_value",
    "returns",
    "tenure_days",
    "reviews",
    "avg_rating",
]
SCALE = np.array([30, 3, 120, 40, 0.5, 400, 2, 1.0])


# ---------------------------------------------------------------- data


def make_customers(
    n: int,
    seed: int = 0,
    n_parents: int = 4,
    per_parent: int = 3,
    dim: int = 384,
    noise: float = 1.6,
    missing_text: float = 0.0,
) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """(text embeddings with NaN rows for missing, behaviour frame, planted labels)."""
    rng = np.random.default_rng(seed)
    k = n_parents * per_parent
    w = 0.82 ** np.arange(k)
    y = rng.choice(k, size=n, p=w / w.sum())
    parents = _unit(rng.normal(size=(n_parents, dim)))
    kids = _unit(rng.normal(size=(k, dim)))
    centres = _unit(parents[np.arange(k) // per_parent] + 0.8 * kids)
    text = _unit(centres[y] + noise * rng.normal(size=(n, dim)) / np.sqrt(dim))
    text = text.astype(np.float32)
    text[rng.random(n) < missing_text] = np.nan
    shift = rng.normal(0.0, 0.5, size=(k, len(BEHAVIOUR)))
    raw = np.exp(shift[y] + 0.6 * rng.normal(size=(n, len(BEHAVIOUR)))) * SCALE
    raw[:, 7] = 1 + 4 / (1 + np.exp(-(shift[y, 7] * 2 + 0.5 * rng.normal(size=n))))
    return text, pd.DataFrame(raw, columns=BEHAVIOUR), y


def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True)


# ---------------------------------------------------------------- children


def child_ours(data: str, out: str, preset: str, seed: int, min_size: int | None = None) -> dict:
    """Runs inside the 'ours' subprocess (``min_size``: HDBSCAN min_cluster_size override)."""
    from cx_core.cluster import make_pipeline

    X = np.load(data)
    pipe = make_pipeline(preset, X.shape[0], seed=seed)
    if min_size is not None:
        pipe.set_params(clusterer__min_cluster_size=min_size)
    pipe.fit(X)
    np.save(out, pipe.labels_)
    cfg = pipe.config_()
    return {
        "timings_s": pipe.timings_,
        "n_segments": cfg["n_segments"],
        "outlier_share": round(pipe.outlier_share_, 4),
        "knn_method": cfg["knn_method"],
    }


def child_defaults(data: str, out: str) -> dict:
    """Runs inside the 'defaults' subprocess: library defaults, nothing tuned."""
    import hdbscan
    import umap

    X = np.load(data)
    t0 = time.perf_counter()
    emb = umap.UMAP().fit_transform(X)
    t1 = time.perf_counter()
    labels = hdbscan.HDBSCAN().fit(emb).labels_
    t2 = time.perf_counter()
    np.save(out, labels)
    np.save(out.replace(".npy", "_emb.npy"), emb)
    return {
        "timings_s": {"umap": round(t1 - t0, 3), "hdbscan": round(t2 - t1, 3)},
        "n_segments": int(labels.max() + 1),
        "outlier_share": round(float(np.mean(labels < 0)), 4),
    }


def run_child(args: list[str], env: dict[str, str], tmp: Path) -> dict:
    """Run this script as a child: wall seconds, peak RSS (MB, ``os.wait4``) and its JSON."""
    out_f, err_f = tmp / "child.out", tmp / "child.err"
    with open(out_f, "wb") as so, open(err_f, "wb") as se:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, __file__, *args], stdout=so, stderr=se, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"child {args[:1]} failed:\n{err_f.read_text()[-3000:]}")
    report = json.loads(out_f.read_text().strip().splitlines()[-1])
    report.update(wall_s=round(wall, 2), peak_rss_mb=round(usage.ru_maxrss / 1024, 1))
    return report


def child_main(argv: list[str]) -> None:
    """Entry point of a child: run one side, print its JSON."""
    side, data, out = argv[0], argv[1], argv[2]
    if side == "prep_demo":
        rep = child_prep_demo(int(argv[1]), int(argv[2]), argv[3], argv[4])
    elif side == "sweep":
        rep = child_sweep(data, out, argv[3], int(argv[4]), int(argv[5]))
    elif side == "ours":
        min_size = int(argv[5]) if len(argv) > 5 else None
        rep = child_ours(data, out, argv[3], int(argv[4]), min_size)
    else:
        rep = child_defaults(data, out)
    print(json.dumps(rep))


def child_sweep(data: str, out: str, preset: str, seeds: int, min_size: int) -> dict:
    """Our pipeline over pipeline seeds 0..seeds-1, with the preset's UMAP neighbours and with
    10 (the fast preset's value for every size before 2026-12-03); labels saved to ``out``."""
    from cx_core.cluster import make_pipeline

    X = np.load(data)
    labels = {}
    for name, extra in (("preset", {}), ("neighbours_10", {"reducer__n_neighbors": 10})):
        rows = []
        for seed in range(seeds):
            pipe = make_pipeline(preset, X.shape[0], seed=seed, representation=False)
            pipe.set_params(clusterer__min_cluster_size=min_size, **extra)
            rows.append(pipe.fit(X).labels_)
        labels[name] = np.array(rows)
    np.savez(out, **labels)
    return {"neighbours": int(make_pipeline(preset, X.shape[0]).reducer.n_neighbors)}


def sweep_summary(labels: np.ndarray, y: np.ndarray, anchor: np.ndarray, behaviour: pd.DataFrame) -> dict:
    """ARI over pipeline seeds (reviewers and all customers): mean, min, runs below 0.7."""
    rev = np.array([ari(y[anchor], lab) for lab in labels])
    every = np.array([placed_ari(behaviour, anchor, lab, y) for lab in labels])
    return {
        "ari_reviewers_mean": round(float(rev.mean()), 3),
        "ari_reviewers_min": round(float(rev.min()), 3),
        "ari_all_mean": round(float(every.mean()), 3),
        "ari_all_min": round(float(every.min()), 3),
        "runs_all_below_0_7": int((every < 0.7).sum()),
    }


# ---------------------------------------------------------------- parent


def ari(a: np.ndarray, b: np.ndarray) -> float:
    from sklearn.metrics import adjusted_rand_score

    return round(float(adjusted_rand_score(a, b)), 4)


def matched_defaults(emb_path: str, n: int) -> np.ndarray:
    """The defaults' 2-D embedding clustered with our HDBSCAN settings."""
    import hdbscan

    from cx_core.cluster.pipeline import default_min_cluster_size, default_min_samples

    emb = np.load(emb_path)
    return (
        hdbscan.HDBSCAN(min_cluster_size=default_min_cluster_size(n), min_samples=default_min_samples(n))
        .fit(emb)
        .labels_
    )


def bench_size(n: int, args: argparse.Namespace, tmp: Path, env_ours: dict[str, str]) -> dict:
    """Both sides on the same vectors for one size."""
    from cx_core.cluster import CustomerFeatureBuilder

    text, beh, y = make_customers(n, seed=args.seed, missing_text=args.missing_text)
    t0 = time.perf_counter()
    X = CustomerFeatureBuilder().fit_transform(text, beh)
    build_s = time.perf_counter() - t0
    data = str(tmp / f"X_{n}.npy")
    np.save(data, X)
    res: dict = {
        "n": n,
        "dim": int(X.shape[1]),
        "planted_segments": int(len(np.unique(y))),
        "feature_build_s": round(build_s, 2),
        "load_before": os.getloadavg()[0],
    }
    ours_out = str(tmp / f"ours_{n}.npy")
    res["ours"] = run_child(["ours", data, ours_out, args.preset, str(args.seed)], env_ours, tmp)
    lab_ours = np.load(ours_out)
    res["ours"]["ari_vs_truth"] = ari(y, lab_ours)
    if not args.skip_defaults:
        d_out = str(tmp / f"defaults_{n}.npy")
        res["defaults"] = run_child(["defaults", data, d_out], dict(os.environ), tmp)
        lab_def = np.load(d_out)
        res["defaults"]["ari_vs_truth"] = ari(y, lab_def)
        matched = matched_defaults(d_out.replace(".npy", "_emb.npy"), n)
        res["defaults_matched"] = {"ari_vs_truth": ari(y, matched), "n_segments": int(matched.max() + 1)}
        res["agreement_ari"] = {
            "ours_vs_defaults": ari(lab_ours, lab_def),
            "ours_vs_defaults_matched": ari(lab_ours, matched),
        }
        res["speedup"] = round(res["defaults"]["wall_s"] / res["ours"]["wall_s"], 2)
    res["load_after"] = os.getloadavg()[0]
    return res


def demo_workspace(seed: int, n: int, folder: str):
    """(workspace, config) with the demo store, profiles and MiniLM embeddings (built once, then
    reused)."""
    import torch

    from cx_core.config import load_config
    from cx_core.customers.profiles import build_profiles
    from cx_core.ingest.bootstrap import load_demo
    from cx_core.store.db import Workspace
    from cx_core.text.embeddings import embed_reviews
    from cx_core.text.encoder import TextEncoder

    root = Path(folder) / f"demo_{seed}_{n}"
    cfg = load_config(
        env={},
        db__path=str(root / "ws.duckdb"),
        demo__dir=str(root / "demo"),
        demo__seed=seed,
        demo__customers=n,
    )
    fresh = not Path(cfg.db.path).exists()
    ws = Workspace.open(cfg.db)
    if fresh:
        torch.set_num_threads(1)
        load_demo(ws, cfg)
        build_profiles(ws)
        embed_reviews(ws, TextEncoder(threads=1))
    return ws, cfg


def child_prep_demo(seed: int, n: int, folder: str, out: str) -> dict:
    """Runs in its own process (torch and the data stay out of the timed children's memory):
    the demo store's customer vectors as run_segmentation builds them, saved to ``out``."""
    from cx_core.ingest.demo import generate_demo
    from cx_core.segments.fit import build_vectors
    from cx_core.segments.inputs import load_inputs
    from cx_core.segments.run import SegmentSettings, make_encoder
    from cx_core.store.runs import latest_id

    ws, cfg = demo_workspace(seed, n, folder)
    inputs = load_inputs(
        ws, "customer", True, lambda: make_encoder(cfg.model), lambda f, m: None, latest_id(ws, "profiles")
    )
    ws.close()
    sv = build_vectors(inputs, SegmentSettings())
    truth = generate_demo(seed=seed, n_customers=n).truth_map()
    np.savez(
        out,
        X=sv.X,
        anchor=sv.anchor,
        y=np.array([truth[u] for u in inputs.unit_ids]),
        behaviour=inputs.behaviour.to_numpy(),
        columns=np.array(inputs.behaviour.columns),
        stage_min=sv.stage_min_size,
    )
    return {"strategy": sv.strategy}


def placed_ari(
    behaviour: pd.DataFrame, anchor: np.ndarray, anchor_labels: np.ndarray, y: np.ndarray
) -> float:
    """ARI over all customers after placing the non-reviewers by behaviour (same rule both sides)."""
    from types import SimpleNamespace

    from cx_core.segments.fit import place_rest

    n = len(y)
    fit = [np.full(n, -1), np.full(n, -1), np.zeros(n), np.zeros((n, 2))]
    fit[0][anchor] = fit[1][anchor] = anchor_labels
    if not anchor.all():
        place_rest(SimpleNamespace(behaviour=behaviour), anchor, fit)
    return ari(y, fit[0])


def bench_demo(seed: int, args: argparse.Namespace, tmp: Path, env_ours: dict[str, str]) -> dict:
    """Ours vs library defaults on the demo store's real customer vectors."""
    from cx_core.config import SegmentsConfig

    prep = str(tmp / f"demo_{seed}.npz")
    run_child(["prep_demo", str(seed), str(args.demo_customers), args.demo_dir, prep], dict(os.environ), tmp)
    d = np.load(prep, allow_pickle=True)
    anchor, y = d["anchor"], d["y"]
    behaviour = pd.DataFrame(d["behaviour"], columns=list(d["columns"]))
    data = str(tmp / f"demo_X_{seed}.npy")
    np.save(data, d["X"])
    res: dict = {
        "demo_seed": seed,
        "customers": int(len(y)),
        "reviewers": int(anchor.sum()),
        "dim": int(d["X"].shape[1]),
        "load_before": os.getloadavg()[0],
    }
    out = str(tmp / f"demo_ours_{seed}.npy")
    res["ours"] = run_child(
        ["ours", data, out, args.preset, str(SegmentsConfig.seed), str(int(d["stage_min"]))], env_ours, tmp
    )  # the app's default seed
    lab = np.load(out)
    res["ours"].update(ari_reviewers=ari(y[anchor], lab), ari_all=placed_ari(behaviour, anchor, lab, y))
    if not args.skip_defaults:
        d_out = str(tmp / f"demo_defaults_{seed}.npy")
        res["defaults"] = run_child(["defaults", data, d_out], dict(os.environ), tmp)
        lab_d = np.load(d_out)
        res["defaults"].update(
            ari_reviewers=ari(y[anchor], lab_d), ari_all=placed_ari(behaviour, anchor, lab_d, y)
        )
        res["agreement_ari"] = ari(lab, lab_d)
        res["speedup"] = round(res["defaults"]["wall_s"] / res["ours"]["wall_s"], 2)
    if args.pipeline_seeds:
        s_out = str(tmp / f"demo_sweep_{seed}.npz")
        n = args.pipeline_seeds
        sweep = run_child(
            ["sweep", data, s_out, args.preset, str(n), str(int(d["stage_min"]))], env_ours, tmp
        )
        got = np.load(s_out)
        sweep.update({k: sweep_summary(got[k], y, anchor, behaviour) for k in got.files}, seeds=n)
        res["seed_sweep"] = sweep
    res["load_after"] = os.getloadavg()[0]
    return res


def main() -> None:
    """Parse options, warm the cache, run every size, print one JSON object."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="10000,100000")
    p.add_argument("--preset", default="fast", choices=["fast", "default"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--missing-text", type=float, default=0.0)
    p.add_argument(
        "--cache-dir",
        default=str(ROOT / "data" / ".numba_cache"),
        help="NUMBA_CACHE_DIR for our side ('' = numba's default location)",
    )
    p.add_argument("--skip-defaults", action="store_true")
    p.add_argument("--demo", default="", help="demo store seeds for the real-data figure, e.g. 7,11")
    p.add_argument("--demo-customers", type=int, default=3000)
    p.add_argument(
        "--pipeline-seeds",
        type=int,
        default=0,
        help="also run ours over pipeline seeds 0..N-1 on each demo store (ARI spread; vs 10 neighbours)",
    )
    p.add_argument(
        "--demo-dir",
        default=str(Path(tempfile.gettempdir()) / "cx_bench_demo"),
        help="where the demo workspaces (with their embeddings) are kept between runs",
    )
    args = p.parse_args()
    env_ours = dict(os.environ)
    if args.cache_dir:
        Path(args.cache_dir).mkdir(parents=True, exist_ok=True)
        env_ours["NUMBA_CACHE_DIR"] = args.cache_dir
    out: dict = {
        "machine": {"cpus": os.cpu_count(), "loadavg_start": os.getloadavg()},
        "preset": args.preset,
        "cache_dir": args.cache_dir or None,
        "sizes": [],
    }
    with tempfile.TemporaryDirectory(prefix="segbench_") as td:
        tmp = Path(td)
        text, beh, _ = make_customers(2000, seed=args.seed + 1)
        from cx_core.cluster import CustomerFeatureBuilder

        np.save(tmp / "warm.npy", CustomerFeatureBuilder().fit_transform(text, beh))
        warm = run_child(
            ["ours", str(tmp / "warm.npy"), str(tmp / "warm_out.npy"), args.preset, str(args.seed)],
            env_ours,
            tmp,
        )
        out["warmup_s"] = warm["wall_s"]
        for n in [int(s) for s in args.sizes.split(",") if s.strip()]:
            out["sizes"].append(bench_size(n, args, tmp, env_ours))
        out["demo"] = [bench_demo(int(d), args, tmp, env_ours) for d in args.demo.split(",") if d.strip()]
    out["machine"]["loadavg_end"] = os.getloadavg()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("ours", "defaults", "prep_demo", "sweep"):
        child_main(sys.argv[1:])
    else:
        main()
