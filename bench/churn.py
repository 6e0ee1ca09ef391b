"""Benchmark the churn model against BG/NBD on real order histories, with rolling hold-out checks.

For each data set (UCI Online Retail, CDNOW master, the demo store with its
reviews) and each hold-out end (the last day, then 30 and 60 days earlier) it
trains on what was known ``N`` days before the end (N = 90 here), scores the
customers active then, and compares with what they did in the last N days:

* ours (the default settings: logistic regression on behaviour + BG/NBD +
  text when present, blended 50/50 with BG/NBD's P(no purchase)),
* the classifier alone, and gradient-boosted trees (``hgb``) with the same blend,
* baselines in the same run, on the same customers: BG/NBD ``1 - P(alive)``,
  BG/NBD ``P(no purchase in N days)`` and recency.

It also times a production run (evaluation + final fit + scoring).  Prints one
JSON object.  Usage: ``python bench/churn.py [--datasets online_retail,cdnow,demo]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cx_core.customers.churn import ChurnSettings, evaluate_churn, score_churn  # noqa: E402
from cx_core.customers.churn_features import OrderHistory  # noqa: E402

DATA = Path(os.environ.get("CX_SHARED_DATA", ROOT.parent / "shared" / "data"))
VARIANTS = {"ours": ChurnSettings(), "hgb_blend": ChurnSettings(method="hgb")}
SHIFTS = (0, 30, 60)


def online_retail() -> tuple[pd.DataFrame, None]:
    """UCI Online Retail order lines (cancellations are returns), as ``bench/clv.py`` reads them."""
    from clv import online_retail_orders  # bench/ is on sys.path when this file runs

    return online_retail_orders(), None


def cdnow() -> tuple[pd.DataFrame, None]:
    """The CDNOW master file (one cohort, no returns)."""
    m = pd.read_csv(DATA / "cdnow" / "CDNOW_master.txt", sep=r"\s+", dtype={"customer_id": str, "date": str})
    return pd.DataFrame(
        {
            "customer_id": m["customer_id"],
            "ts": pd.to_datetime(m["date"], format="%Y%m%d"),
            "amount": m["dollar_value"],
            "is_return": False,
            "order_id": m.index.astype(str),
        }
    ), None


def demo() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The demo store (3,000 customers), loaded through the workspace like the app does."""
    from cx_core.config import load_config
    from cx_core.customers.profiles import load_orders
    from cx_core.customers.text_profile import load_review_signals
    from cx_core.ingest.bootstrap import load_demo
    from cx_core.store.db import Workspace
    from cx_core.store.runs import latest_id

    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(env={}, db__path=f"{tmp}/ws.duckdb", demo__dir=f"{tmp}/demo")
        ws = Workspace.open(cfg.db)
        load_demo(ws, cfg)
        out = load_orders(ws), load_review_signals(ws, latest_id(ws, "review_scores"))
        ws.close()
    return out


def _row(ev: dict[str, Any]) -> dict[str, Any]:
    """The numbers of one evaluation worth keeping."""
    keep = (
        "model",
        "classifier_alone",
        "baseline_bgnbd_p_no_purchase",
        "baseline_bgnbd_1_minus_p_alive",
        "baseline_recency_days",
    )
    return {
        "holdout_window": ev["holdout_window"],
        "customers": ev["customers"],
        "holdout_churn_rate": ev["holdout_churn_rate"],
        "train_cutoffs": ev["train_cutoffs"],
        **{k: {m: v for m, v in ev[k].items() if m != "method"} for k in keep},
    }


def bench_dataset(name: str, horizon: int) -> dict[str, Any]:
    """Rolling evaluations of every variant, and the time of one production run."""
    t0 = time.perf_counter()
    orders, signals = globals()[name]()
    history = OrderHistory(orders)
    out: dict[str, Any] = {
        "order_lines": int(len(orders)),
        "span_days": history.span_days,
        "load_s": round(time.perf_counter() - t0, 2),
    }
    for variant, settings in VARIANTS.items():
        runs, times = [], []
        for shift in SHIFTS:
            t = time.perf_counter()
            ev = evaluate_churn(
                history, ChurnSettings(horizon, settings.method), signals, end=history.last_day - shift
            )
            times.append(time.perf_counter() - t)
            runs.append(_row(ev))
        gains = [r["model"]["auc"] - r["baseline_bgnbd_p_no_purchase"]["auc"] for r in runs]
        out[variant] = {
            "method": ev["model"]["method"],
            "runs": runs,
            "mean_auc": round(float(np.mean([r["model"]["auc"] for r in runs])), 4),
            "mean_auc_gain_vs_p_no_purchase": round(float(np.mean(gains)), 4),
            "evaluate_s": [round(t, 2) for t in times],
        }
    t = time.perf_counter()
    res = score_churn(history, ChurnSettings(horizon), signals)
    out["production"] = {
        "wall_s": round(time.perf_counter() - t, 2),
        "customers": int(len(res.scores)),
        "window": res.window,
        "mean_churn_prob": res.metrics["mean_churn_prob"],
    }
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and print its JSON report."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="online_retail,cdnow,demo")
    ap.add_argument("--horizon-days", type=int, default=90)
    args = ap.parse_args(argv)
    report: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "horizon_days": args.horizon_days,
        "hold_out_ends": "last day - 0/30/60 days",
    }
    for name in args.datasets.split(","):
        report[name] = bench_dataset(name.strip(), args.horizon_days)
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
