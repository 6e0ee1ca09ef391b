"""Train -> evaluate -> save -> score on a workspace, with the tiny random encoder (fast)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cx_core.cli.main import main
from cx_core.config import load_config
from cx_core.reviews.model import load_review_model
from cx_core.reviews.pipeline import train_review_model
from cx_core.reviews.score import score_reviews
from cx_core.reviews.store import latest_model_dir
from cx_core.reviews.testing import tiny_encoder_dir
from cx_core.store.db import Workspace

XSS = "<img src=x onerror=alert(1)>"
GOOD = ["love the fabric", "great fit", "beautiful color", "so comfortable", "perfect size"]
BAD = ["poor quality", "ripped after one wash", "shipping was late", "awful fit", "I want a refund"]


def reviews(n: int, rated: bool = True, seed: int = 0) -> list[tuple]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        r = int(rng.integers(1, 6))
        pool = GOOD if r >= 4 else BAD if r <= 2 else GOOD[:2] + BAD[:2]
        # unique texts: exact duplicates are dropped before the held-out split
        text = ". ".join(rng.choice(pool, 2)) + f" (order {i})" + (f" {XSS}" if i == 0 else "")
        rows.append((f"r{i}", text, float(r) if rated else None))
    return rows


def add(ws: Workspace, rows: list[tuple], dataset: str = "ds1") -> None:
    with ws.write() as cur:
        for rid, text, rating in rows:
            cur.execute(
                "INSERT INTO reviews (dataset_id, review_id, text, rating, text_hash) "
                "VALUES (?, ?, ?, ?, sha256(?))",
                [dataset, rid, text, rating, text],
            )


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> str:
    return tiny_encoder_dir(tmp_path_factory.mktemp("enc"))


@pytest.fixture
def rcfg(tmp_path, tiny_dir):
    return load_config(
        env={},
        db__path=str(tmp_path / "ws.duckdb"),
        model__model_dir=tiny_dir,
        model__device="cpu",
        model__dtype="float32",
        model__max_length=64,
        reviews__model_store=str(tmp_path / "models"),
        reviews__epochs=4,
        reviews__min_steps=40,
        reviews__lexical_dim=8,
    )


@pytest.fixture
def rws(rcfg):
    w = Workspace.open(rcfg.db)
    yield w
    w.close()


def test_train_evaluate_save_and_score(rws, rcfg):
    add(rws, reviews(200))
    res = train_review_model(rws, rcfg)
    m = res.metrics
    assert m["sentiment_method"] == "supervised" and m["n_test"] == 40
    assert set(m) >= {"sentiment", "rating", "aspects", "risk", "baseline"}
    assert len(m["sentiment"]["confusion"]) == 3 and m["baseline"]["macro_f1"] is not None
    assert m["sentiment"]["macro_f1"] > 0.5  # the toy data are easy
    assert latest_model_dir(rws) == res.model_dir
    run = rws.query_one("SELECT stage, status FROM runs WHERE run_id = ?", [res.model.model_id_])
    assert run == ("review_model", "done")

    model = load_review_model(res.model_dir)
    out = score_reviews(rws, model)
    stored = rws.query_df("SELECT * FROM review_scores WHERE run_id = ?", [out.run_id])
    assert len(stored) == 200 and set(stored["sentiment_method"]) == {"supervised"}
    np.testing.assert_allclose(stored["sentiment_score"], stored["p_positive"] - stored["p_negative"])
    np.testing.assert_allclose(stored[["p_negative", "p_neutral", "p_positive"]].sum(axis=1), 1, atol=1e-6)
    assert stored["rating_pred"].between(1, 5).all() and stored["risk"].between(0, 1).all()
    row = stored.set_index("review_id").loc["r0"]
    assert isinstance(json.loads(row["aspect_sentiment_json"]), dict)
    assert rws.query_one("SELECT stage, status FROM runs WHERE run_id = ?", [out.run_id]) == (
        "review_scores",
        "done",
    )
    # a second run reuses every cached embedding and writes a new run id
    again = score_reviews(rws, model)
    assert again.run_id != out.run_id


def test_aspect_sentiment_splits_clauses(rws, rcfg):
    add(rws, reviews(120))
    add(rws, [("mixed", "The fabric quality is wonderful but the shipping was late.", 3.0)], "ds2")
    model = train_review_model(rws, rcfg).model
    out = score_reviews(rws, model, dataset_id="ds2")
    row = out.scores.iloc[0]
    assert set(json.loads(row["aspect_sentiment_json"])) == {"quality", "delivery"}
    assert {"quality", "delivery"} <= set(row["aspects"])


def test_zero_shot_without_ratings(rws, rcfg):
    add(rws, reviews(60, rated=False))
    add(rws, [(f"p{i}", f"love it {i}", 5.0) for i in range(12)], "ds2")  # one class only
    res = train_review_model(rws, rcfg)
    assert res.metrics["sentiment_method"] == "zero-shot"
    assert "rating" not in res.model.heads_ and "baseline" not in res.metrics
    assert res.metrics["n_test"] == 3 and res.metrics["sentiment"]["n"] == 3
    out = score_reviews(rws, load_review_model(res.model_dir))
    assert set(out.scores["sentiment_method"]) == {"zero-shot"}
    assert out.scores["rating_pred"].isna().all()


def test_no_reviews_is_a_clear_error(rws, rcfg):
    with pytest.raises(ValueError, match="No reviews"):
        train_review_model(rws, rcfg)


def test_cli_train_evaluate_score(rcfg, tiny_dir, tmp_path, monkeypatch, capsys):
    ws = Workspace.open(rcfg.db)
    add(ws, reviews(80))
    ws.close()
    for key, value in {
        "CX_MODEL_DIR": tiny_dir,
        "CX_MODEL_DEVICE": "cpu",
        "CX_MODEL_DTYPE": "float32",
        "CX_MODEL_MAX_LENGTH": "64",
        "CX_REVIEWS_MODEL_STORE": str(tmp_path / "models"),
        "CX_REVIEWS_EPOCHS": "2",
        "CX_REVIEWS_LEXICAL_DIM": "8",
        "CX_REVIEWS_MIN_STEPS": "0",
    }.items():
        monkeypatch.setenv(key, value)
    db = ["--db", rcfg.db.path]
    assert main([*db, "evaluate"]) == 2
    assert "No trained review model" in capsys.readouterr().err
    assert main([*db, "train"]) == 0
    assert "macro-F1: ours" in capsys.readouterr().out
    assert main([*db, "evaluate"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["baseline"]["method"].startswith("TF-IDF")
    assert main([*db, "score"]) == 0
    assert json.loads(capsys.readouterr().out)["reviews"] == 80


def test_finetune_mode_scores_with_its_own_encoder_cache(rws, rcfg):
    from dataclasses import replace

    import torch

    from cx_core.reviews.score import FeatureEncoder

    add(rws, reviews(80))
    cfg = replace(rcfg, reviews=replace(rcfg.reviews, finetune_max_texts=32, finetune_max_length=32))
    res = train_review_model(rws, cfg, mode="finetune")
    assert res.metrics["mode"] == "finetune" and res.metrics["n_train_used"] == 32
    model = load_review_model(res.model_dir)
    assert model.max_length == 32 and (res.model_dir / "encoder").is_dir()
    feats = FeatureEncoder(model)
    assert feats.identify() == f"{model.model_id_}/encoder"
    texts = ["love the fabric and the fit", "poor quality. I want a refund"]
    ids, mask = model.tokenize(texts)
    with torch.no_grad():
        direct = model.forward_logits(ids, mask)["sentiment"]
        cached = model.logits_from_features(
            torch.as_tensor(feats.encode(texts)), model.lexical_features(ids, mask)
        )["sentiment"]
    torch.testing.assert_close(direct, cached, atol=1e-5, rtol=1e-4)
    out = score_reviews(rws, model)
    assert len(out.scores) == 80
    stored = rws.scalar("SELECT count(*) FROM embeddings WHERE model_id = ?", [feats.identify()])
    assert stored >= rws.scalar("SELECT count(DISTINCT text_hash) FROM reviews")
