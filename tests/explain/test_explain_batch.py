"""Batched integrated gradients (the segment reasons' engine) on a tiny random BERT: it must give
the same attributions as the one-review path, and a contrast of two labels their difference."""

from __future__ import annotations

import pytest

from cx_core.explain.batch import BatchSettings, explain_batch
from cx_core.explain.integrated import ExplainError, explain_review
from tests.explain_fixtures import tiny_sentiment_model

TEXTS = [
    "The fabric felt cheap and the zipper broke.",
    "",
    "Lovely dress, fits perfectly, quick delivery and great service from the shop!",
    "ok",
]


@pytest.fixture(scope="module")
def model():
    return tiny_sentiment_model(seed=1)


def _scores(expl) -> list[float]:
    return [w.score for w in expl.words]


def test_batched_equals_one_review_at_a_time(model):
    cfg = BatchSettings(n_steps=8, batch_size=3, max_length=64)
    batch = explain_batch(model, TEXTS, "sentiment", "negative", cfg)
    assert batch[1] is None and all(e is not None for i, e in enumerate(batch) if i != 1)
    for text, got in zip(TEXTS, batch):
        if not text:
            continue
        one = explain_review(
            model,
            text,
            "sentiment",
            "negative",
            n_steps=8,
            segments=1,
            max_steps=8,
            rel_tol=1e9,
            max_length=64,
        )
        assert [w.text for w in got.words] == [w.text for w in one.words]
        assert _scores(got) == pytest.approx(_scores(one), abs=1e-5)
        assert got.logit == pytest.approx(one.logit, abs=1e-5)
        assert got.baseline_logit == pytest.approx(one.baseline_logit, abs=1e-5)
        assert got.settings == cfg.key() and got.target == "negative"


def test_contrast_is_the_difference_of_the_two_labels(model):
    cfg = BatchSettings(n_steps=8, max_length=64)
    pos = explain_batch(model, TEXTS[:1], "sentiment", "positive", cfg)[0]
    neg = explain_batch(model, TEXTS[:1], "sentiment", "negative", cfg)[0]
    gap = explain_batch(model, TEXTS[:1], "sentiment", "positive", cfg, against="negative")[0]
    assert gap.target == "positive vs negative"
    assert _scores(gap) == pytest.approx([a - b for a, b in zip(_scores(pos), _scores(neg))], abs=1e-5)
    assert gap.logit == pytest.approx(pos.logit - neg.logit, abs=1e-5)


def test_bad_requests_are_plain_errors(model):
    with pytest.raises(ExplainError):
        explain_batch(model, TEXTS, "rating", "5")
    with pytest.raises(ExplainError):
        explain_batch(model, TEXTS, "sentiment", "negative", against="negative")
    with pytest.raises(ValueError):
        BatchSettings(n_steps=1)
