"""Finetune mode on cached lower-layer states: same forward as the full encoder, early stopping on
the training slice only, time budget, save/reload; the Model page's mode estimates and winner."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cx_core.config import ReviewsConfig
from cx_core.reviews import tune
from cx_core.reviews.model import build_review_model, load_review_model
from cx_core.reviews.modes import ModeResult, describe_seconds, training_seconds, winner
from cx_core.reviews.testing import tiny_review_model
from cx_core.reviews.train import ReviewTrainer, TrainingSet, rating_classes, sentiment_from_ratings

TEXTS = [
    "Love the fabric, fits true to size.",
    "Terrible quality, it ripped after one wash.",
    "ok",
    "",
    "Shipping took weeks but the dress is beautiful!! " * 6,
]


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    return tmp_path_factory.mktemp("tiny_tune")


def _toy_set(n: int, seed: int = 0) -> TrainingSet:
    rng = np.random.default_rng(seed)
    good, bad = ["love it", "great fit", "beautiful fabric"], ["awful", "ripped seams", "poor quality"]
    ratings = rng.integers(1, 6, n)
    texts = [" ".join(rng.choice(good if r >= 4 else bad if r <= 2 else good + bad, 3)) for r in ratings]
    targets = {
        "sentiment": sentiment_from_ratings(ratings),
        "rating": rating_classes(ratings),
        "aspects": np.zeros((n, 3), np.float32),
        "risk": np.zeros((n, 6), np.float32),
    }
    return TrainingSet(texts, targets, None)


def _cosines(model, first: int) -> torch.Tensor:
    cache = tune.build_cache(model, TEXTS, first)
    hidden, ids, mask = cache.batch(np.arange(len(TEXTS)))
    with torch.no_grad():
        cached = tune.top_features(model, hidden, mask, first)
        ids2, mask2 = model.tokenize(TEXTS)
        full = model.deep_features(ids2, mask2)
    assert torch.equal(ids, ids2)
    return torch.nn.functional.cosine_similarity(cached, full)


@pytest.mark.parametrize("layers", [1, 2])
def test_cached_lower_layers_give_the_full_forward(tiny_root, layers):
    model = tiny_review_model(tiny_root, mode="finetune").eval()
    assert _cosines(model, tune.first_tuned_layer(model, layers)).min() >= 0.999


def test_real_minilm_cached_states_match_the_encoder():
    from cx_core.reviews.taxonomy import DEFAULT_TAXONOMY
    from cx_core.text.encoder import TextEncoder

    enc = TextEncoder(device="cpu", dtype="float32", max_length=128)
    model = build_review_model(enc, list(DEFAULT_TAXONOMY), mode="finetune", max_length=128).eval()
    assert tune.first_tuned_layer(model, 1) == 5
    assert _cosines(model, 5).min() >= 0.999


def test_early_stopping_scores_only_the_validation_slice(tiny_root, monkeypatch):
    model = tiny_review_model(tiny_root, mode="finetune")
    data = _toy_set(300)
    seen = []
    real = tune.sentiment_score
    monkeypatch.setattr(tune, "sentiment_score", lambda y, p: seen.append(y.copy()) or real(y, p))
    trainer = ReviewTrainer(
        mode="finetune", tune_layers=1, epochs=4, patience=9, min_train=50, encoder_lr=1e-3, lr=1e-2
    ).fit(model, data)
    val = trainer.val_rows_
    assert len(val) == 30 and trainer.n_train_ == 270
    assert all(np.array_equal(y, data.targets["sentiment"][val]) for y in seen) and len(seen) == 4
    scores = [h["val_macro_f1"] for h in trainer.history_]
    assert trainer.best_epoch_ == int(np.argmax(scores)) + 1
    cache = tune.build_cache(model, data.texts, tune.first_tuned_layer(model, 1))
    kept = real(data.targets["sentiment"][val], tune.cached_proba(model, cache, val)["sentiment"])
    assert kept == pytest.approx(max(scores), abs=1e-3)  # the best epoch's weights were restored


def test_time_budget_stops_within_the_first_epoch(tiny_root):
    model = tiny_review_model(tiny_root, mode="finetune")
    trainer = ReviewTrainer(mode="finetune", tune_layers=1, epochs=5, batch_tokens=64, time_budget_s=1e-9)
    trainer.fit(model, _toy_set(300))
    assert len(trainer.history_) == 1 and trainer.history_[0]["epoch"] < 1


def test_tuned_model_trains_top_block_only_and_reloads_identically(tiny_root, tmp_path):
    model = tiny_review_model(tiny_root, mode="finetune")
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    ReviewTrainer(mode="finetune", tune_layers=1, epochs=1, encoder_lr=1e-3).fit(model, _toy_set(60))
    after = model.encoder.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("encoder.layer.1.") for k in changed)
    model.model_id_ = "rm_ft"
    model.save(tmp_path / "ft")
    again = load_review_model(tmp_path / "ft")
    a, b = model.predict_texts(TEXTS), again.predict_texts(TEXTS)
    for head in a:
        np.testing.assert_allclose(a[head], b[head], atol=1e-6)


def test_mode_estimates_and_winner():
    cfg = ReviewsConfig(finetune_layers=1, finetune_epochs=3, finetune_minutes=20)
    # lower 5/6 once + 3 epochs x 3 x 1/6 = 2.33 full passes at 10 texts/s
    assert training_seconds("finetune", 600, cfg, 10.0, None) == pytest.approx(600 * (5 / 6 + 1.5) / 10)
    assert training_seconds("finetune", 10**6, cfg, 10.0, None) == 1200  # the time budget
    assert training_seconds("finetune", 600, cfg, None, None) is None
    measured = ModeResult("finetune", "m", 0.7, 0.8, train_s=100.0, train_texts=1000)
    assert training_seconds("finetune", 2000, cfg, 10.0, measured) == 200
    assert winner({"frozen": ModeResult("frozen", "a", 0.66, 0.8, 1, 1)}) is None
    both = {"frozen": ModeResult("frozen", "a", 0.66, 0.8, 1, 1), "finetune": measured}
    assert winner(both) == "finetune"
    assert describe_seconds(None).startswith("time measured") and describe_seconds(600) == "about 10 min"
