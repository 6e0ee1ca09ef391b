"""Benchmark item recommendations on UCI Online Retail: ALS vs popularity, time-split.

Reads ``online_retail.parquet`` with DuckDB (cancellations, i.e. invoices
starting with ``C`` or negative quantities, are returns and excluded), holds
out each customer's last basket, fits on the rest and recommends 10 items for
every customer.  Reports recall@10 / NDCG@10 on the held-out new items and the
seconds to fit and to recommend (with reasons) for all customers.  Prints one
JSON object.  Usage: ``python bench/recommend.py [--path P] [--factors F]
[--iterations I] [--alpha A]``.

``--text``: text recommendations (:class:`cx_core.recommend.text.TextRecommender`)
vs the most praised items on the Amazon Musical Instruments 5-core reviews;
each reviewer's last review (by time) is held out and its item is the target.
MiniLM vectors of "summary. reviewText" are cached in a DuckDB workspace
(``--cache``, in the temp folder) so re-runs only read them.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cx_core.recommend.evaluate import evaluate  # noqa: E402
from cx_core.recommend.orders import ItemRecommender, PopularityRecommender  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared/data/online_retail/online_retail.parquet"
AMAZON = (
    Path(__file__).resolve().parents[2]
    / "shared/data/amazon_musical_instruments/reviews_Musical_Instruments_5.json.gz"
)
TEXT_CACHE = Path(tempfile.gettempdir()) / "cx_bench_recommend_text.duckdb"


def load_lines(path: Path):
    """Order lines in the workspace's ``orders`` shape from the raw parquet."""
    return duckdb.execute(
        "SELECT CAST(CAST(CustomerID AS BIGINT) AS VARCHAR) AS customer_id, InvoiceNo AS order_id, "
        "InvoiceDate AS ts, StockCode AS item, Description AS item_name, Quantity AS quantity, "
        "(InvoiceNo LIKE 'C%' OR Quantity < 0) AS is_return FROM read_parquet(?) "
        "WHERE CustomerID IS NOT NULL",
        [str(path)],
    ).df()


def load_amazon(path: Path):
    """Amazon 5-core reviews as review rows: review_id, customer_id, item, rating, ts, text."""
    df = duckdb.execute(
        "SELECT row_number() OVER (ORDER BY unixReviewTime, reviewerID, asin) - 1 AS review_id, "
        "reviewerID AS customer_id, asin AS item, overall AS rating, "
        "to_timestamp(unixReviewTime) AS ts, coalesce(summary, '') || '. ' || coalesce(reviewText, '') "
        "AS text FROM read_json_auto(?, format = 'newline_delimited')",
        [str(path)],
    ).df()
    return df.astype({"review_id": str})


def embed_cached(texts, cache: Path, threads: int = 1):
    """MiniLM vectors of ``texts``, cached in a DuckDB workspace at ``cache`` (re-runs are cheap)."""
    from cx_core.config import DbConfig
    from cx_core.store.db import Workspace
    from cx_core.text.embeddings import embed_texts_cached
    from cx_core.text.encoder import TextEncoder

    ws = Workspace.open(DbConfig(path=str(cache)))
    try:
        enc = TextEncoder(device="cpu", threads=threads)
        return embed_texts_cached(
            ws,
            enc,
            list(texts),
            progress=lambda d, n: (
                sys.stderr.write(f"\rembedding {d:,}/{n:,}") if d % 512 < 64 or d == n else None
            ),
        )
    finally:
        ws.close()


def last_review_split(reviews):
    """Training reviews and, per reviewer, the item of their last review (by time) held out."""
    df = reviews.sort_values(["customer_id", "ts", "review_id"], kind="stable")
    last = df.groupby("customer_id").tail(1)
    train = df.drop(index=last.index)
    seen = set(zip(train["customer_id"], train["item"]))
    targets = {c: {i} for c, i in zip(last["customer_id"], last["item"]) if (c, i) not in seen}
    return train, targets


def text_benchmark(path: Path, cache: Path, k: int = 10) -> dict:
    """TextRecommender vs most-praised items on the Amazon 5-core, last review held out."""
    from cx_core.recommend.evaluate import ranking_metrics
    from cx_core.recommend.text import PraisePopularityRecommender, TextRecommender

    reviews = load_amazon(path)
    t0 = time.perf_counter()
    vecs = embed_cached(reviews["text"], cache)
    embed_s = time.perf_counter() - t0
    train, targets = last_review_split(reviews)
    emb = vecs[train.index.to_numpy()]
    out = {
        "data": path.name,
        "reviews": len(reviews),
        "train_reviews": len(train),
        "reviewers_evaluated": len(targets),
        "k": k,
        "embed_or_cache_s": round(embed_s, 2),
    }
    for name, model in {"text": TextRecommender(), "popularity": PraisePopularityRecommender()}.items():
        t1 = time.perf_counter()
        model.fit(train, emb)
        t2 = time.perf_counter()
        recs = model.recommend(None, n=k)
        t3 = time.perf_counter()
        out[name] = {
            **ranking_metrics(recs, targets, k),
            "fit_s": round(t2 - t1, 3),
            "recommend_all_s": round(t3 - t2, 3),
            "total_s": round(t3 - t1, 3),
            "items_with_profile": len(model.items_),
            "popularity_weight": getattr(model, "popularity_weight_", None),
            "validation": getattr(model, "validation_", None),
            "reviewers_recommended": int(recs["customer_id"].nunique()),
        }
    for m in (f"recall@{k}", f"ndcg@{k}", "total_s"):
        base = out["popularity"][m]
        out[f"ratio_{m}"] = round(out["text"][m] / base, 2) if base else None
    return out


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one) and core count."""
    try:
        text = Path("/proc/cpuinfo").read_text()
        name = next(
            line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")
        )
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
    ap.add_argument(
        "--text",
        action="store_true",
        help="text recommendations on the Amazon 5-core reviews instead (MiniLM vectors cached in --cache)",
    )
    ap.add_argument("--reviews", type=Path, default=AMAZON)
    ap.add_argument("--cache", type=Path, default=TEXT_CACHE)
    a = ap.parse_args()
    if a.text:
        report = {
            "device": cpu_name(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
            **text_benchmark(a.reviews, a.cache),
        }
        print(json.dumps(report, indent=1, default=str))
        return
    lines = load_lines(a.path)
    models = {
        "als": ItemRecommender(
            factors=a.factors, iterations=a.iterations, alpha=a.alpha, regularization=a.regularization
        ),
        "popularity": PopularityRecommender(),
    }
    report = {
        "data": str(a.path.name),
        "order_lines": len(lines),
        "device": cpu_name(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "params": vars(a) | {"path": str(a.path)},
        **evaluate(models, lines, k=10),
    }
    print(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
