"""Integration: the real MiniLM on 200 real clothing reviews (train, score, explainability contract)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from cx_core.config import load_config
from cx_core.reviews.model import load_review_model
from cx_core.reviews.pipeline import train_review_model
from cx_core.reviews.score import score_reviews
from cx_core.store.db import Workspace
from tests.conftest import shared

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("real")
    cfg = load_config(
        env={},
        db__path=str(tmp / "ws.duckdb"),
        model__device="cpu",
        model__threads=1,
        reviews__model_store=str(tmp / "models"),
        reviews__min_steps=200,
    )
    df = pd.read_csv(shared("womens_clothing_reviews/womens_clothing_ecommerce_reviews.csv.gz"))
    df = df.dropna(subset=["Review Text"]).head(200)
    ws = Workspace.open(cfg.db)
    with ws.write() as cur:
        for i, (text, rating) in enumerate(zip(df["Review Text"], df["Rating"])):
            cur.execute(
                "INSERT INTO reviews (dataset_id, review_id, text, rating, text_hash) "
                "VALUES ('clothing', ?, ?, ?, sha256(?))",
                [f"c{i}", text, float(rating), text],
            )
        cur.execute(
            "INSERT INTO reviews (dataset_id, review_id, text, rating, text_hash) VALUES "
            "('mixed', 'm1', ?, 3, sha256(?))",
            [MIXED, MIXED],
        )
    res = train_review_model(ws, cfg)
    yield ws, cfg, res
    ws.close()


MIXED = "The fabric quality is wonderful and soft. But the delivery was terribly late and slow."


def test_trains_evaluates_and_scores_real_reviews(trained):
    ws, cfg, res = trained
    m = res.metrics
    assert m["sentiment_method"] == "supervised" and m["n_test"] == 41
    assert m["sentiment"]["auc_ovr"] > 0.6 and m["baseline"]["auc_ovr"] is not None
    model = load_review_model(res.model_dir)
    out = score_reviews(ws, model, dataset_id="mixed")
    aspects = json.loads(out.scores.iloc[0]["aspect_sentiment_json"])
    assert aspects["quality"] > aspects["delivery"]  # praise for one aspect, a complaint about the other


def test_real_forward_logits_match_the_cached_embeddings(trained):
    ws, cfg, res = trained
    model = load_review_model(res.model_dir)
    texts = ["Love it!", "The zipper broke the first day, returned it.", MIXED]
    deep = torch.as_tensor(model.text_encoder_.encode(texts))
    ids, mask = model.tokenize(texts)
    with torch.no_grad():
        cached = model.logits_from_features(deep, model.lexical_features(ids, mask))
        direct = model.forward_logits(ids, mask)
    for head in direct:
        torch.testing.assert_close(direct[head], cached[head], atol=1e-4, rtol=1e-4)
