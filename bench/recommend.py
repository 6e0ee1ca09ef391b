"""Benchmark item recommendations on UCI Online Retail: ALS vs popularity, time-split.

Reads ``online_retail.parquet`` with DuckDB (cancellations, i.e. invoices
starting with ``C`` or negative quantities, are returns and excluded), holds
out each customer's last basket, fits on the rest and recommends 10 items for
every customer.  Reports recall@10 / NDCG@10 on the held-out new items and the
seconds to fit and to recommend (with reasons) for all customers.  Prints one
JSON object.  Usage: ``python bench/recommend.py [--path P] [--factors F]
[--iterations I] [--alpha A]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import platform
import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cx_core.recommend import ItemRecommender, PopularityRecommender  # noqa: E402
from cx_core.recommend_eval import evaluate  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared/data/online_retail/online_retail.parquet"


def load_lines(path: Path):
    """Order lines in the workspace's ``orders`` shape from the raw parquet."""
    return duckdb.execute(
        "SELECT CAST(CAST(CustomerID AS BIGINT) AS VARCHAR) AS customer_id, InvoiceNo AS order_id, "
        "InvoiceDate AS ts, StockCode AS item, Description AS item_name, Quantity AS quantity, "
        "(InvoiceNo LIKE 'C%' OR Quantity < 0) AS is_return FROM read_parquet(?) "
        "WHERE CustomerID IS NOT NULL", [str(path)]).df()


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one) and core count."""
    try:
        text = Path("/proc/cpuinfo").read_text()
        name = next(line.split(":", 1)[1].strip() for line in text.splitlines()
                    if line.startswith("model name"))
    except (OSError, StopIteration):
        name = platform.processor() or platform.machine()
    return f"{os.cpu_count()}-core {name}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", type=Path, default=DEFAULT)
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--iterations", type=int, default=15)
    ap.add_argument("--alpha", type=float, default=10.0)
    ap.add_argument("--regularization", type=float, default=0.05)
    a = ap.parse_args()
    lines = load_lines(a.path)
    models = {"als": ItemRecommender(factors=a.factors, iterations=a.iterations, alpha=a.alpha,
                                     regularization=a.regularization),
              "popularity": PopularityRecommender()}
    report = {"data": str(a.path.name), "order_lines": len(lines),
              "device": cpu_name(), "load_avg_1m": round(os.getloadavg()[0], 2),
              "params": vars(a) | {"path": str(a.path)}, **evaluate(models, lines, k=10)}
    print(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
