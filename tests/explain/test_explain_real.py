"""Explanations with the real packaged MiniLM and with a review model trained on demo reviews."""

from __future__ import annotations

import time

import pytest
import torch

from cx_core.explain.integrated import IGSettings, explain_review
from cx_core.explain.reference import EncoderHeadModel, load_minilm
from cx_core.explain.rollout import explain_attention

# 60 words, the size the speed target is set for
REVIEW = (
    "I ordered this dress for a wedding and the fabric felt cheap, the zipper broke on the "
    "second wear, and the colour was nothing like the photos. Customer service took two "
    "weeks to answer my refund request and never apologised. The fit was okay though and "
    "delivery was quick, but I would not buy again from this shop, really sadly."
)


@pytest.fixture(scope="module")
def minilm_model():
    """Packaged MiniLM + mean pooling + seeded heads + a hashed lexical layer (two layers)."""
    enc, tok = load_minilm()
    return EncoderHeadModel(
        enc,
        tok,
        {"sentiment": ["negative", "neutral", "positive"]},
        lexical_dim=16,
        seed=3,
        model_id="minilm-test",
    )


def test_minilm_completeness_and_speed(minilm_model):
    assert len(REVIEW.split()) == 60
    explain_review(minilm_model, "warm up the kernels", "sentiment")
    t0 = time.perf_counter()
    e = explain_review(minilm_model, REVIEW, "sentiment")
    seconds = time.perf_counter() - t0
    print(
        f"\n60-word review: {seconds:.2f} s, {e.n_steps} steps, {e.n_tokens} tokens, "
        f"relative delta {e.relative_delta:.4f}, torch threads {torch.get_num_threads()}"
    )
    assert e.total - e.delta == pytest.approx(e.logit - e.baseline_logit, abs=1e-5)
    assert e.relative_delta <= IGSettings().rel_tol or e.n_steps == IGSettings().max_steps
    assert e.outside_gap == pytest.approx(0.0, abs=1e-5)
    assert e.layer_totals["lexical"] != 0.0
    assert seconds < 15  # loose: shared CI cores; the benchmark reports the real figure
    tight = explain_review(minilm_model, REVIEW, "sentiment", n_steps=48, segments=4, max_steps=48)
    assert tight.relative_delta < 0.01


def test_minilm_attention_rollout(minilm_model):
    e = explain_attention(minilm_model, REVIEW)
    assert minilm_model.encoder.config._attn_implementation == "sdpa"
    assert sum(p[3] for p in e.pieces) == pytest.approx(1.0, abs=1e-6)
    assert len(e.words) == len([w for w in e.words if w.score is not None])


@pytest.mark.slow
def test_trained_review_model_from_demo_reviews(tmp_path):
    """r1's review model trained (frozen mode) on ~200 demo reviews, loaded like the app does."""
    from cx_core.config import load_config
    from cx_core.explain.browse import trained_models
    from cx_core.explain.loader import load_trained
    from cx_core.ingest.bootstrap import ensure_demo
    from cx_core.reviews.pipeline import train_review_model
    from cx_core.store.db import Workspace

    cfg = load_config(
        env={},
        db__path=str(tmp_path / "ws.duckdb"),
        demo__dir=str(tmp_path / "demo"),
        demo__customers=200,
        model__threads=1,
        reviews__model_store=str(tmp_path / "models"),
        reviews__epochs=3,
    )
    threads = torch.get_num_threads()  # model.threads=1 sets torch's global thread count
    ws = Workspace.open(cfg.db)
    try:
        ensure_demo(ws, cfg, None)
        train_review_model(ws, cfg, mode="frozen")
        (choice,) = trained_models(ws)
        model = load_trained(choice.model_dir)
    finally:
        ws.close()
        torch.set_num_threads(threads)
    text = "Wrong size again, I want a refund and I will return it."
    for head in model.heads_:
        e = explain_review(model, text, head)
        assert e.total - e.delta == pytest.approx(e.logit - e.baseline_logit, abs=1e-5)
        assert e.relative_delta <= 0.05 or e.n_steps == IGSettings().max_steps
        assert len(e.layer_totals) == len(model.attribution_layers())
    fit = explain_review(model, text, "aspects", target="fit")  # weak labels seed on "size"
    assert max(fit.words, key=lambda w: w.score).text == "size"
