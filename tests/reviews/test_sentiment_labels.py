"""Any labels: binary or 3-class sentiment from the label field or ratings, and what follows."""

from __future__ import annotations

import numpy as np

from cx_core.explain.integrated import explain_review
from cx_core.reviews.model import BINARY_SENTIMENT_LABELS, load_review_model, sentiment_parts
from cx_core.reviews.pipeline import (
    SUPERVISED,
    ZERO_SHOT,
    choose_sentiment,
    sentiment_design,
    train_review_model,
)
from cx_core.reviews.report import data_notes, per_class_table
from cx_core.reviews.score import score_reviews
from tests.reviews.test_review_pipeline import BAD, GOOD, rcfg, rws, tiny_dir  # noqa: F401


def add_labelled(ws, n: int, labels=("negative", "positive"), rating: bool = False, seed: int = 0):
    rng = np.random.default_rng(seed)
    with ws.write() as cur:
        for i in range(n):
            lab = labels[i % len(labels)]
            pool = GOOD if lab == "positive" else BAD if lab == "negative" else GOOD[:2] + BAD[:2]
            text = ". ".join(rng.choice(pool, 2)) + f" (note {i})"
            cur.execute(
                "INSERT INTO reviews (dataset_id, review_id, text, rating, label, text_hash) "
                "VALUES ('ds1', ?, ?, ?, ?, sha256(?))",
                [f"r{i}", text, (5.0 if lab == "positive" else 1.0) if rating else None, lab, text],
            )


def test_design_binary_three_class_and_zero_shot():
    y = np.array([0] * 30 + [2] * 30)
    d = sentiment_design(y, 20)
    assert d.method == SUPERVISED and d.labels == BINARY_SENTIMENT_LABELS and set(d.y) == {0, 1}
    assert d.note == ""
    few_neutral = np.array([0] * 30 + [1] * 3 + [2] * 30)
    d = sentiment_design(few_neutral, 20)
    assert d.labels == BINARY_SENTIMENT_LABELS and (d.y == -1).sum() == 3 and "neutral" in d.note
    assert sentiment_design(np.array([0, 1, 2] * 20), 20).labels == ["negative", "neutral", "positive"]
    assert sentiment_design(np.array([0] * 30 + [2] * 5), 20).method == ZERO_SHOT
    # min_per_class=0 still needs two of each class, and binary data trains
    assert sentiment_design(np.array([0, 0, 2, 2]), 0).method == SUPERVISED
    # auto: labels win; too few labels but plenty of ratings -> ratings
    ratings = np.array([1.0] * 30 + [5.0] * 30)
    labels = ["positive"] + [None] * 59
    assert choose_sentiment(ratings, labels, "auto", 20).source == "rating"
    assert choose_sentiment(ratings, labels, "label", 20).method == ZERO_SHOT


def test_binary_labels_train_a_binary_head_and_score(rws, rcfg):
    add_labelled(rws, 160)
    res = train_review_model(rws, rcfg)
    m = res.metrics
    assert m["sentiment_method"] == "supervised" and m["sentiment_source"] == "label"
    assert res.model.heads_["sentiment"] == BINARY_SENTIMENT_LABELS
    assert "rating" not in res.model.heads_  # no ratings: no rating head
    assert set(m["sentiment"]["per_class"]) == {"negative", "positive"}
    assert len(m["sentiment"]["confusion"]) == 2 and m["sentiment"]["macro_f1"] > 0.8
    assert set(m["baseline"]["per_class"]) == {"negative", "positive"} and m["baseline"]["C"] > 0
    assert set(per_class_table(m)["class"]) == {"negative", "positive"}
    assert any("label field" in n for n in data_notes(m))
    assert m["language"]["judged"] > 0 and not m["language"]["mostly_not_english"]
    model = load_review_model(res.model_dir)
    out = score_reviews(rws, model)
    s = out.scores
    assert set(s["sentiment"]) <= {"negative", "positive"} and s["p_neutral"].isna().all()
    np.testing.assert_allclose(s["p_negative"] + s["p_positive"], 1, atol=1e-6)
    np.testing.assert_allclose(s["sentiment_score"], s["p_positive"] - s["p_negative"])
    stored = rws.query_df("SELECT p_neutral, rating_pred FROM review_scores WHERE run_id = ?", [out.run_id])
    assert stored["p_neutral"].isna().all() and stored["rating_pred"].isna().all()
    cfg = rws.query_one(
        "SELECT json_extract_string(config_json, '$.sentiment_labels') FROM runs WHERE run_id = ?",
        [out.run_id],
    )[0]
    assert "neutral" not in cfg
    # Explain handles the 2-class head
    expl = explain_review(model, "poor quality, I want a refund", "sentiment", "negative")
    assert expl.target == "negative"


def test_three_class_labels_with_ratings(rws, rcfg):
    add_labelled(rws, 180, labels=("negative", "neutral", "positive"), rating=True)
    res = train_review_model(rws, rcfg)
    assert res.model.heads_["sentiment"] == ["negative", "neutral", "positive"]
    assert "rating" in res.model.heads_ and res.metrics["sentiment_source"] == "label"
    p_neg, p_neu, p_pos = sentiment_parts(res.model.heads_["sentiment"], np.eye(3))
    assert p_neu.tolist() == [0, 1, 0]


def test_duplicates_removed_before_split(rws, rcfg):
    add_labelled(rws, 100)
    with rws.write() as cur:  # 20 exact copies of texts already present
        cur.execute(
            "INSERT INTO reviews (dataset_id, review_id, text, label, text_hash) "
            "SELECT 'ds2', review_id || 'b', text, label, text_hash FROM reviews LIMIT 20"
        )
    res = train_review_model(rws, rcfg)
    assert res.metrics["duplicates_removed"] == 20
    assert res.metrics["n_train"] + res.metrics["n_test"] == 100
