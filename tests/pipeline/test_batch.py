"""``python -m cx_core run``: the whole pipeline in one command; unchanged stages are skipped."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from cx_core.cli.main import main
from cx_core.config import load_config
from cx_core.pipeline.batch import ORDER as STAGES
from cx_core.reviews.testing import tiny_encoder_dir
from cx_core.store.db import Workspace


@pytest.fixture
def batch_env(tmp_path, monkeypatch):
    """A small demo, the tiny encoder and short training, all under tmp_path."""
    torch.set_num_threads(1)
    for name, value in {
        "CX_MODEL_DIR": tiny_encoder_dir(tmp_path / "enc"),
        "CX_MODEL_THREADS": "1",
        "CX_DEMO_CUSTOMERS": "300",
        "CX_DEMO_DIR": str(tmp_path / "demo"),
        "CX_REVIEWS_MODEL_STORE": str(tmp_path / "models"),
        "CX_REVIEWS_MIN_STEPS": "40",
        "CX_REVIEWS_EPOCHS": "2",
    }.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def _run(capsys, *argv: str) -> dict:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def _one(ws: Workspace, sql: str, params=()) -> int:
    return int(ws.scalar(sql, list(params)))


def _check_tables(db: str, summary: dict, export: str, models: int = 1) -> None:
    """Every table filled and consistent with the loaded data."""
    runs = {s["stage"]: s["run_id"] for s in summary["stages"]}
    ws = Workspace.open(load_config(env={}, db__path=db).db)
    try:
        reviews = _one(ws, "SELECT count(*) FROM reviews WHERE length(trim(text)) > 0")
        assert reviews > 100
        assert (
            _one(ws, "SELECT count(*) FROM review_scores WHERE run_id = ?", [runs["review_scores"]])
            == reviews
        )
        assert (
            _one(
                ws,
                "SELECT count(DISTINCT text_hash) FROM reviews r WHERE NOT EXISTS (SELECT 1 "
                "FROM embeddings e WHERE e.text_hash = r.text_hash)",
            )
            == 0
        )
        buyers = _one(ws, "SELECT count(DISTINCT customer_id) FROM orders WHERE customer_id IS NOT NULL")
        assert (
            _one(
                ws,
                "SELECT count(DISTINCT customer_id) FROM customer_profiles WHERE run_id = ?",
                [runs["profiles"]],
            )
            == buyers
        )
        assert (
            _one(
                ws,
                "SELECT count(*) FROM (SELECT DISTINCT customer_id FROM orders WHERE customer_id "
                "IS NOT NULL EXCEPT SELECT unit_id FROM segments WHERE run_id = ?)",
                [runs["segments"]],
            )
            == 0
        )
        units = _one(ws, "SELECT count(*) FROM segments WHERE run_id = ?", [runs["segments"]])
        if runs["themes"]:
            assert _one(ws, "SELECT count(*) FROM themes WHERE run_id = ?", [runs["themes"]]) > 0
        assert _one(ws, "SELECT count(*) FROM runs WHERE stage = 'review_model'") == models
    finally:
        ws.close()
    assert len(pd.read_csv(export)) == units


@pytest.mark.slow
def test_run_demo_end_to_end_then_skips_everything(batch_env, capsys):
    db, out_dir = str(batch_env / "w.duckdb"), batch_env / "exports"
    first = _run(capsys, "--db", db, "run", "--demo", "--export-dir", str(out_dir))
    assert first["ran"] == list(STAGES) and first["skipped"] == []
    assert all(s["seconds"] >= 0 for s in first["stages"])
    (export,) = first["exports"]
    assert export.startswith(str(out_dir))
    _check_tables(db, first, export)

    second = _run(capsys, "--db", db, "run", "--demo", "--export-dir", str(out_dir))
    assert second["ran"] == [] and second["skipped"] == list(STAGES)

    new = batch_env / "more.csv"
    new.write_text(
        "cust,comment,stars\nC00001,The zipper broke after one wash <b>bad</b>,1\n"
        "C00002,Lovely soft fabric and fast delivery to my door,5\n"
    )
    third = _run(
        capsys,
        "--db",
        db,
        "run",
        str(new),
        "--kind",
        "reviews",
        "--map",
        "customer_id=cust",
        "--skip",
        "themes",
        "--export-dir",
        str(out_dir),
    )
    stages = {s["stage"]: s for s in third["stages"]}
    assert stages["embed"]["newly_encoded"] == 2
    assert stages["themes"]["status"] == "skipped" and stages["themes"]["reason"] == "--skip"
    assert {"ingest", "review_scores", "profiles", "segments", "export"} <= set(third["ran"])
    # only the new work: the model is kept, old scores carried, two customers placed
    assert stages["review_model"]["status"] == "skipped"
    assert stages["review_model"]["reason"].startswith("model kept: reviews grew by 0.")
    scores = stages["review_scores"]
    assert scores["newly_scored"] == 2 and scores["carried"] == scores["reviews"] - 2
    assert stages["segments"]["mode"] == "extended" and stages["segments"]["placed"] == 2
    _check_tables(db, third, third["exports"][0], models=1)
    _check_extension(db, first, third)


def _check_extension(db: str, first: dict, third: dict) -> None:
    """Unchanged customers keep their segment; the retrain and refit thresholds are honoured."""
    from cx_core.pipeline.stage import RunOptions, StageContext
    from cx_core.pipeline.stages.reviews import model_decision
    from cx_core.reviews.store import latest_model
    from cx_core.segments.extend import extend_segmentation
    from cx_core.segments.run import SegmentSettings

    old, new = ({s["stage"]: s["run_id"] for s in r["stages"]}["segments"] for r in (first, third))
    cfg = load_config(db__path=db, batch__retrain_growth=0.0)  # env: the tiny encoder
    ws = Workspace.open(cfg.db)
    try:
        moved = ws.query_df(
            "SELECT a.unit_id FROM segments a JOIN segments b USING (unit_id) "
            "WHERE a.run_id = ? AND b.run_id = ? AND (a.segment_id <> b.segment_id "
            "OR a.x IS DISTINCT FROM b.x)",
            [old, new],
        )["unit_id"].tolist()
        assert set(moved) <= {"C00001", "C00002"}
        ctx = StageContext(ws, cfg, RunOptions(), {})
        keep, why = model_decision(ctx, latest_model(ws))
        assert not keep and why.startswith("reviews grew by")
        ext = extend_segmentation(ws, old, SegmentSettings.from_config(cfg), model=cfg.model, max_share=0.0)
        assert ext.run_id is None and "refit above 0%" in ext.reason and ext.placed == 2
    finally:
        ws.close()


def test_run_bad_input_is_a_clear_error(tmp_path, capsys):
    db = str(tmp_path / "w.duckdb")
    assert main(["--db", db, "run"]) == 2
    assert "--demo" in capsys.readouterr().err
    f = tmp_path / "a.csv"
    f.write_text("x\n1\n")
    assert (
        main(["--db", db, "run", str(f), str(f), "--kind", "orders", "--kind", "reviews", "--kind", "orders"])
        == 2
    )
    assert "one --kind" in capsys.readouterr().err


def test_model_trained_outside_a_batch_is_reused(batch_env, capsys):
    db = str(batch_env / "w.duckdb")
    f = batch_env / "r.csv"
    rows = ["love the fit,5", "too small and cheap,1", "okay for the price,3"] * 8
    f.write_text(
        "review_text,rating\n" + "\n".join(r.replace(",", f" {i},", 1) for i, r in enumerate(rows)) + "\n"
    )
    assert main(["--db", db, "load", str(f), "--kind", "reviews"]) == 0
    assert main(["--db", db, "train"]) == 0
    out = _run(capsys, "--db", db, "run", "--skip", "segments", "--skip", "themes")
    stages = {s["stage"]: s for s in out["stages"]}
    assert stages["review_model"]["status"] == "skipped"
    assert stages["review_scores"]["status"] == "done" and stages["profiles"]["status"] == "skipped"
    assert stages["export"]["status"] == "skipped"


def test_carried_scores_equal_a_full_rescore(tmp_path):
    """score_reviews(carry_from=...) copies the old rows and scores only the new reviews."""
    from cx_core.reviews.model import load_review_model
    from cx_core.reviews.pipeline import train_review_model
    from cx_core.reviews.score import score_reviews
    from tests.reviews.test_review_pipeline import add, reviews

    torch.set_num_threads(1)
    cfg = load_config(
        env={},
        db__path=str(tmp_path / "ws.duckdb"),
        model__model_dir=tiny_encoder_dir(tmp_path / "enc"),
        model__device="cpu",
        model__dtype="float32",
        model__max_length=64,
        reviews__model_store=str(tmp_path / "models"),
        reviews__epochs=2,
        reviews__min_steps=20,
        reviews__lexical_dim=8,
    )
    ws = Workspace.open(cfg.db)
    try:
        add(ws, reviews(120))
        model = load_review_model(train_review_model(ws, cfg).model_dir)
        first = score_reviews(ws, model)
        add(ws, reviews(7, seed=3), "ds2")
        inc = score_reviews(ws, model, carry_from=first.run_id)
        assert (inc.metrics["newly_scored"], inc.metrics["carried"], inc.metrics["reviews"]) == (7, 120, 127)
        full = score_reviews(ws, model)
        cols = [
            "dataset_id",
            "review_id",
            "sentiment",
            "aspects",
            "aspect_sentiment_json",
            "risk_flags",
            "p_negative",
            "p_neutral",
            "p_positive",
            "rating_pred",
            "risk",
        ]
        a, b = (
            ws.query_df(
                f"SELECT {', '.join(cols)} FROM review_scores WHERE run_id = ? "
                "ORDER BY dataset_id, review_id",
                [r],
            )
            for r in (inc.run_id, full.run_id)
        )
        pd.testing.assert_frame_equal(a, b, check_exact=False, atol=1e-6)
        with pytest.raises(ValueError, match="No finished scoring run"):
            score_reviews(ws, model, carry_from="rs_nope")
    finally:
        ws.close()
