"""Small parts of review scoring: clauses, weak labellers, zero-shot head, evaluation, browse queries."""

from __future__ import annotations

import json

import numpy as np
import torch

from cx_core.reviews.browse import ReviewFilter, filter_reviews, segment_options
from cx_core.reviews.clauses import aspect_clauses, aspect_scores, split_clauses
from cx_core.reviews.evaluate import classification_metrics, split_indices
from cx_core.reviews.report import confusion_frame, evaluation_table
from cx_core.reviews.testing import tiny_review_model
from cx_core.reviews.train import balanced_weights, rating_classes, sentiment_from_ratings
from cx_core.reviews.weak import AspectLabeller, RiskLabeller
from cx_core.reviews.zeroshot import install_zero_shot_sentiment, zero_shot_proba

TAX = {"quality": ["quality", "fabric"], "delivery": ["shipping", "delivery", "arrived"]}


def test_split_clauses_cuts_sentences_and_contrasts():
    text = "Love the fabric, but shipping took weeks! Fits well; however the zip broke."
    assert split_clauses(text) == ["Love the fabric", "shipping took weeks!", "Fits well", "the zip broke."]
    assert split_clauses(None) == [] and split_clauses("ok") == []


def test_aspect_scores_per_clause():
    lab = AspectLabeller(TAX).fit()
    per = aspect_clauses(["Great fabric. But shipping was slow", "nothing here"], lab.match)
    assert [c for c, _ in per[0]] == ["Great fabric.", "shipping was slow"] and per[1] == []
    scores = aspect_scores(per, {"Great fabric.": 0.9, "shipping was slow": -0.7}, lab.aspects_)
    assert scores == [{"quality": 0.9, "delivery": -0.7}, {}]


def test_aspect_labeller_seeds_and_similarity():
    lab = AspectLabeller(TAX, min_similarity=0.5, top_share=0.5).fit(
        {"quality": np.array([[1.0, 0.0]]), "delivery": np.array([[0.0, 1.0]])}
    )
    texts = ["the fabric-quality is great", "unrelated words", "unrelated too"]
    emb = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(lab.match(texts), [[1, 0], [0, 0], [0, 0]])
    labels = lab.transform(texts, emb)
    assert labels[:, 1].tolist() == [1, 1, 0] and labels[0, 0] == 1


def test_risk_labeller():
    y = (
        RiskLabeller()
        .fit()
        .transform(["I returned it", "want my money back", "never again!", "great"], [4, 5, None, 1])
    )
    assert y[:, 0].tolist() == [0, 1, 1, 1]  # at_risk: refund, never again, or rating <= 2
    assert y[0, 2] == 1 and y[1, 1] == 1 and y[2, 4] == 1


def test_targets_from_ratings_and_weights():
    assert sentiment_from_ratings([1, 2, 3, 4, 5, None]).tolist() == [0, 0, 1, 2, 2, -1]
    assert rating_classes([1, 3.4, 5, None]).tolist() == [0, 2, 4, -1]
    w = balanced_weights(np.array([0, 0, 0, 2, -1]), 3)
    np.testing.assert_allclose(w.numpy(), [4 / 9, 1.0, 4 / 3], rtol=1e-6)


def test_zero_shot_head_matches_prototype_maths(tmp_path):
    model = tiny_review_model(tmp_path)
    protos = np.eye(3, model.deep_dim_, dtype=np.float32)
    install_zero_shot_sentiment(model, protos, scale=10.0)
    assert not model.heads["sentiment"].weight.requires_grad
    texts = ["fine", "love it"]
    deep = model.text_encoder_.encode(texts)
    ids, mask = model.tokenize(texts)
    with torch.no_grad():
        p = model.forward_logits(ids, mask)["sentiment"].softmax(-1).numpy()
    np.testing.assert_allclose(p, zero_shot_proba(deep, protos, 10.0), atol=1e-5)
    assert model.meta_["sentiment_method"] == "zero-shot"


def test_metrics_and_report_tables():
    y = np.array([0, 1, 2, 2, -1])
    proba = np.array([[0.8, 0.1, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3], [1, 0, 0]])
    m = classification_metrics(y, proba, ["negative", "neutral", "positive"])
    assert m["n"] == 4 and m["accuracy"] == 0.75 and m["confusion"][2] == [0, 1, 1]
    table = evaluation_table({"sentiment": m, "baseline": {**m, "method": "TF-IDF"}, "mode": "frozen"})
    assert table["model"].tolist()[1] == "TF-IDF"
    assert confusion_frame({"sentiment": m}).shape == (3, 3)
    tr, te = split_indices(np.array([0, 1, 2] * 10), 0.2, 42)
    assert len(te) == 6 and len(set(tr) | set(te)) == 30


def _scored(ws):
    with ws.write() as cur:
        for i, (sent, score, aspects, cust) in enumerate(
            [
                ("negative", -0.8, ["fit"], "c1"),
                ("positive", 0.9, ["price"], "c2"),
                ("neutral", 0.0, [], "c1"),
            ]
        ):
            cur.execute(
                "INSERT INTO reviews (dataset_id, review_id, customer_id, ts, text, text_hash)"
                " VALUES ('d', ?, ?, TIMESTAMP '2024-01-01' + to_days(?), 't', 'h')",
                [f"r{i}", cust, i * 10],
            )
            cur.execute(
                "INSERT INTO review_scores (run_id, dataset_id, review_id, model_id, "
                "sentiment_method, sentiment, sentiment_score, aspects) VALUES "
                "('rs1', 'd', ?, 'm', 'supervised', ?, ?, ?)",
                [f"r{i}", sent, score, aspects],
            )


def test_filter_reviews_and_segments(ws):
    from datetime import date

    _scored(ws)
    assert segment_options(ws).empty
    ids = lambda f: filter_reviews(ws, "rs1", f)["review_id"].tolist()  # noqa: E731
    assert ids(ReviewFilter()) == ["r0", "r2", "r1"]
    assert ids(ReviewFilter(sentiments=("positive",))) == ["r1"]
    assert ids(ReviewFilter(score_min=-0.5)) == ["r2", "r1"]
    assert ids(ReviewFilter(aspect="fit")) == ["r0"]
    assert ids(ReviewFilter(date_from=date(2024, 1, 5), date_to=date(2024, 1, 11))) == ["r1"]
    with ws.write() as cur:
        cur.execute("INSERT INTO runs VALUES ('sg1', 'segments', 'all', '{}', now(), now(), 'done', '{}')")
        cur.execute("INSERT INTO segments VALUES ('sg1', 'customer', 'c1', 3, false, 1, 0, 0)")
        cur.execute(
            "INSERT INTO segment_info (run_id, segment_id, name, size) VALUES ('sg1', 3, ?, 1)",
            ["<b>loyal</b>"],
        )
    assert segment_options(ws)["name"].tolist() == ["<b>loyal</b>"]
    assert ids(ReviewFilter(segment_id=3)) == ["r0", "r2"]
    assert json.dumps(ids(ReviewFilter(segment_id=4))) == "[]"
