"""The honest baseline: balanced, C by cross-validation, per-class metrics, duplicates out."""

from __future__ import annotations

import numpy as np

from cx_core.reviews import evaluate as ev
from cx_core.reviews.pipeline import split


def test_duplicate_mask_and_split_keep_copies_out():
    texts = ["a", "b ", "a", "c", "b", "a"]
    assert ev.duplicate_mask(texts).tolist() == [False, False, True, False, True, True]
    rng = np.random.default_rng(0)
    texts = [f"t{i % 40}" for i in range(100)]  # 60 exact duplicates
    y = rng.integers(0, 2, 100)
    train, test = split(y, 0.25, 0, ev.duplicate_mask(texts))
    assert len(train) + len(test) == 40
    assert not {texts[i] for i in train} & {texts[i] for i in test}


def test_macro_f1_ignores_absent_classes_and_reports_per_class():
    y = np.array([0, 0, 2, 2])
    proba = np.array([[0.9, 0.05, 0.05], [0.2, 0.1, 0.7], [0.1, 0.1, 0.8], [0.1, 0.1, 0.8]])
    m = ev.classification_metrics(y, proba, ["negative", "neutral", "positive"])
    assert m["per_class"]["neutral"]["support"] == 0
    assert m["per_class"]["negative"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    assert m["macro_f1"] == round((2 / 3 + 0.8) / 2, 4)  # the empty neutral class is not averaged in


def test_baseline_is_balanced_and_tunes_c():
    rng = np.random.default_rng(1)
    pos = ["great lovely product", "love it so much", "excellent and fine"]
    neg = ["awful broken junk", "terrible waste", "bad and broken"]
    texts, y = [], []
    for i in range(300):
        lab = int(rng.random() < 0.15)  # skewed: 15 % negative
        texts.append(f"{rng.choice(neg if lab else pos)} {rng.choice(['x', 'y', 'z'])} {i}")
        y.append(0 if lab else 1)
    y = np.array(y)
    m = ev.tfidf_baseline(texts[:200], y[:200], texts[200:], y[200:], ["negative", "positive"])
    assert m["C"] in ev.BASELINE_CS and max(ev.BASELINE_CS) >= 32
    assert "balanced" in m["method"] and "C by CV" in m["method"]
    assert m["per_class"]["negative"]["recall"] > 0.8
    naive = ev.tfidf_baseline(
        texts[:200], y[:200], texts[200:], y[200:], ["negative", "positive"], balanced=False, tune_c=False
    )
    assert naive["C"] == 1.0 and "balanced" not in naive["method"]
