"""``python -m cx_core`` on real shared data: load a sample of two public datasets, then ``run``.

Samples (written to tmp, never to the repository): the first 300 Women's Clothing reviews and every
order line of 150 Online Retail customers.  The batch runs with the tiny random encoder and short
training; its outputs are checked to be complete and to agree with what the app's read functions
(the ones the pages call) return.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from cx_core.cli.main import main
from cx_core.config import load_config
from cx_core.store.db import Workspace
from tests.conftest import SHARED_DATA

DATA = SHARED_DATA
CLOTHING = DATA / "womens_clothing_reviews" / "womens_clothing_ecommerce_reviews.csv.gz"
RETAIL = DATA / "online_retail" / "online_retail.parquet"
N_REVIEWS, N_CUSTOMERS = 300, 150

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CLOTHING.is_file() and RETAIL.is_file()), reason="shared data not present (../shared/data)"
    ),
]


def _samples(tmp: Path) -> tuple[Path, Path, int, int]:
    """Write the two sample CSVs; returns their paths, the review texts and the customers kept."""
    import duckdb

    reviews, orders = tmp / "clothing_sample.csv", tmp / "retail_sample.csv"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_csv_auto('{CLOTHING}') LIMIT {N_REVIEWS}) TO '{reviews}' (HEADER)")
    con.execute(
        f"COPY (SELECT * FROM '{RETAIL}' WHERE CustomerID IN (SELECT DISTINCT CustomerID "
        f"FROM '{RETAIL}' WHERE CustomerID IS NOT NULL ORDER BY CustomerID LIMIT {N_CUSTOMERS})) "
        f"TO '{orders}' (HEADER)"
    )
    texts = con.execute(
        f"SELECT count(*) FROM read_csv_auto('{reviews}') WHERE length(trim(\"Review Text\")) > 0"
    ).fetchone()[0]
    con.close()
    return reviews, orders, int(texts), N_CUSTOMERS


@pytest.fixture
def env(tmp_path, monkeypatch):
    import torch

    from cx_core.reviews.testing import tiny_encoder_dir

    torch.set_num_threads(1)
    for k in [k for k in os.environ if k.startswith("CX_")]:
        monkeypatch.delenv(k)
    for name, value in {
        "CX_MODEL_DIR": tiny_encoder_dir(tmp_path / "enc"),
        "CX_MODEL_THREADS": "1",
        "CX_MODEL_DEVICE": "cpu",
        "CX_MODEL_DTYPE": "float32",
        "CX_MODEL_MAX_LENGTH": "64",
        "CX_DEMO_DIR": str(tmp_path / "demo"),
        "CX_INGEST_UPLOAD_DIR": str(tmp_path / "uploads"),
        "CX_REVIEWS_MODEL_STORE": str(tmp_path / "models"),
        "CX_REVIEWS_EPOCHS": "2",
        "CX_REVIEWS_MIN_STEPS": "0",
        "CX_REVIEWS_LEXICAL_DIM": "8",
    }.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def _cli(capsys, *argv: str) -> str:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, f"python -m cx_core {' '.join(argv)} exited {code}:\n{err[-2000:]}"
    return out


def test_load_and_run_on_real_samples_match_the_app_reads(env, capsys):
    from cx_core.customers.profiles import load_profiles
    from cx_core.ingest.datasets import list_datasets, summarize
    from cx_core.insight.export import export_frame
    from cx_core.reviews.browse import count_reviews
    from cx_core.segments.query import segment_runs
    from cx_core.store import runs as run_api

    reviews_csv, orders_csv, texts, customers = _samples(env)
    db = str(env / "ws.duckdb")
    out = _cli(capsys, "--db", db, "load", str(reviews_csv), "--kind", "reviews")
    assert f"{N_REVIEWS} rows read" in out and "dataset_id: ds_" in out, out
    out = _cli(capsys, "--db", db, "load", str(orders_csv), "--kind", "orders")
    assert "dataset_id: ds_" in out, out
    summary = json.loads(_cli(capsys, "--db", db, "run", "--export-dir", str(env / "exports")))
    runs = {s["stage"]: s["run_id"] for s in summary["stages"]}
    (export_path,) = summary["exports"]
    for stage in ("review_model", "review_scores", "profiles", "segments"):
        assert runs.get(stage), f"stage {stage} produced no run: {summary}"

    ws = Workspace.open(load_config(env={}, db__path=db).db)
    try:
        datasets = list_datasets(ws)
        assert sorted(datasets["kind"]) == ["orders", "reviews"]
        s = summarize(ws)
        assert s["reviews"].rows == texts  # reviews without text are rejected, the rest kept
        score_run = run_api.latest(ws, "review_scores")
        assert score_run.run_id == runs["review_scores"]
        assert sum(count_reviews(ws, score_run.run_id).values()) == texts
        prof_run = run_api.latest_id(ws, "profiles")
        assert prof_run == runs["profiles"]
        profiles = load_profiles(ws, prof_run)
        # profiles cover customers with a purchase line (a return-only customer has none: Online
        # Retail has two among the sampled 150, whose only line is a cancellation)
        buyers = int(
            ws.scalar(
                "SELECT count(DISTINCT customer_id) FROM orders "
                "WHERE NOT coalesce(is_return, false) AND amount >= 0"
            )
        )
        ordered = int(ws.scalar("SELECT count(DISTINCT customer_id) FROM orders"))
        assert ordered == customers and customers - 5 <= buyers <= customers
        assert len(profiles) == buyers and profiles["customer_id"].is_unique
        assert profiles["clv"].notna().all() and profiles["p_alive"].between(0, 1).all()
        seg = segment_runs(ws)
        assert seg["run_id"].iloc[0] == runs["segments"]
        assert int(seg["units"].iloc[0]) == buyers and seg["unit_kind"].iloc[0] == "customer"
        frame = export_frame(ws, runs["segments"])
    finally:
        ws.close()
    exported = pd.read_csv(export_path, dtype={"customer_id": str})
    assert len(exported) == len(frame) == buyers
    assert list(exported.columns) == list(frame.columns)
    assert set(exported["customer_id"]) == set(profiles["customer_id"].astype(str))
