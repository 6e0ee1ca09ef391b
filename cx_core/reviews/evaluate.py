"""Held-out evaluation of the review model, always next to the TF-IDF + logistic-regression baseline.

Metrics per head: accuracy, macro-F1 (over the classes present in the held-out
labels, so a binary label set is not averaged with an empty neutral class),
per-class precision / recall / F1, AUC (one-vs-rest macro for multiclass heads)
and the confusion matrix; multilabel heads (aspects, risk) are scored against
their weak labels (AUC and F1 per label), which says how well the model learned
the labeller, not how right the labeller is.

The baseline is the one a careful analyst would fit: TF-IDF word 1-2 grams
(sublinear tf) + logistic regression with balanced class weights and C chosen
by cross-validation (macro-F1) on the training split only. Exact-duplicate
texts are dropped before any split (:func:`duplicate_mask`), so no held-out
text is also in the training set.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

BASELINE = "TF-IDF (word 1-2 grams) + logistic regression"
#: the C values the baseline's cross-validation chooses from (reaching 64)
BASELINE_CS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


def duplicate_mask(texts: Sequence[str]) -> np.ndarray:
    """True for every text that repeats an earlier one exactly (after trimming spaces)."""
    seen: set[str] = set()
    out = np.zeros(len(texts), dtype=bool)
    for i, t in enumerate(texts):
        key = (t or "").strip()
        out[i] = key in seen
        seen.add(key)
    return out


def split_indices(y: np.ndarray, test_size: float = 0.2, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train / test row positions (classes with < 2 rows go to train)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    counts = np.bincount(y - y.min()) if len(y) else np.array([])
    if len(y) < 10 or (counts[counts > 0] < 2).any():
        return train_test_split(idx, test_size=test_size, random_state=seed)
    return train_test_split(idx, test_size=test_size, random_state=seed, stratify=y)


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, labels: Sequence[str]) -> dict:
    """Accuracy, macro-F1, per-class precision / recall / F1, one-vs-rest AUC and confusion matrix.

    Macro-F1 averages over the classes present in ``y_true`` (a class nobody
    holds is not averaged in as a zero).
    """
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
        roc_auc_score,
    )

    keep = y_true >= 0
    y, p = y_true[keep], proba[keep]
    if not len(y):
        return {"n": 0}
    pred = p.argmax(1)
    k = len(labels)
    present = np.unique(y)
    auc = None
    if len(present) > 1:
        cols = p[:, present] / p[:, present].sum(1, keepdims=True).clip(1e-12)
        auc = (
            roc_auc_score(y, cols[:, 1])
            if len(present) == 2
            else roc_auc_score(y, cols, multi_class="ovr", labels=present)
        )
    prec, rec, f1, sup = precision_recall_fscore_support(y, pred, labels=list(range(k)), zero_division=0)
    per_class = {
        str(labels[c]): {
            "precision": round(float(prec[c]), 4),
            "recall": round(float(rec[c]), 4),
            "f1": round(float(f1[c]), 4),
            "support": int(sup[c]),
        }
        for c in range(k)
    }
    return {
        "n": int(len(y)),
        "accuracy": round(float(accuracy_score(y, pred)), 4),
        "macro_f1": round(
            float(f1_score(y, pred, labels=present.tolist(), average="macro", zero_division=0)), 4
        ),
        "auc_ovr": None if auc is None else round(float(auc), 4),
        "per_class": per_class,
        "labels": list(labels),
        "confusion": confusion_matrix(y, pred, labels=list(range(k))).tolist(),
    }


def multilabel_metrics(y_true: np.ndarray, proba: np.ndarray, labels: Sequence[str]) -> dict:
    """Per-label AUC and F1 (threshold 0.5) against (weak) 0/1 labels, plus their macro means."""
    from sklearn.metrics import f1_score, roc_auc_score

    per = {}
    for j, name in enumerate(labels):
        y, p = y_true[:, j], proba[:, j]
        auc = roc_auc_score(y, p) if 0 < y.sum() < len(y) else None
        per[name] = {
            "positives": int(y.sum()),
            "auc": None if auc is None else round(float(auc), 4),
            "f1": round(float(f1_score(y, p >= 0.5, zero_division=0)), 4),
        }
    aucs = [v["auc"] for v in per.values() if v["auc"] is not None]
    return {
        "n": int(len(y_true)),
        "per_label": per,
        "macro_auc": round(float(np.mean(aucs)), 4) if aucs else None,
        "macro_f1": round(float(np.mean([v["f1"] for v in per.values()])), 4) if per else None,
        "note": "against weak labels",
    }


def tfidf_baseline(
    train_texts: Sequence[str],
    y_train: np.ndarray,
    test_texts: Sequence[str],
    y_test: np.ndarray,
    labels: Sequence[str],
    balanced: bool = True,
    tune_c: bool = True,
    seed: int = 0,
) -> dict:
    """The baseline a careful user would fit: TF-IDF word 1-2 grams (sublinear tf) + logistic
    regression, balanced class weights and C chosen by 3-fold cross-validation on the training
    split (macro-F1 over :data:`BASELINE_CS`); ``balanced=False, tune_c=False`` is the naive one.

    Returns :func:`classification_metrics` of the held-out texts plus ``method`` and ``C``.
    """
    proba, c = baseline_proba(train_texts, y_train, test_texts, len(labels), balanced, tune_c, seed)
    out = classification_metrics(y_test, proba, labels)
    out["method"] = baseline_name(balanced, tune_c)
    out["C"] = c
    return out


def baseline_name(balanced: bool = True, tune_c: bool = True) -> str:
    """How the baseline was fitted, for tables."""
    parts = (["balanced class weights"] if balanced else []) + (["C by CV"] if tune_c else [])
    return BASELINE + (f" ({', '.join(parts)})" if parts else "")


def baseline_proba(
    train_texts: Sequence[str],
    y_train: np.ndarray,
    test_texts: Sequence[str],
    n_classes: int,
    balanced: bool = True,
    tune_c: bool = True,
    seed: int = 0,
) -> tuple[np.ndarray, float]:
    """Class probabilities ``(n_test, n_classes)`` of the TF-IDF + LR baseline and its C."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold

    keep = y_train >= 0
    y = y_train[keep]
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x_train = vec.fit_transform([t for t, k in zip(train_texts, keep) if k])
    weight = "balanced" if balanced else None
    folds = min(3, int(np.bincount(y).min(initial=0)) if len(y) else 0)
    if tune_c and folds >= 2:
        clf = LogisticRegressionCV(
            Cs=list(BASELINE_CS),
            cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
            scoring="f1_macro",
            class_weight=weight,
            max_iter=3000,
            random_state=seed,
        )
        clf.fit(x_train, y)
        c = float(np.ravel(clf.C_)[0])
    else:
        clf = LogisticRegression(max_iter=3000, class_weight=weight, random_state=seed)
        clf.fit(x_train, y)
        c = 1.0
    proba = np.zeros((len(test_texts), n_classes))
    if len(test_texts):
        proba[:, clf.classes_] = clf.predict_proba(vec.transform(list(test_texts)))
    return proba, c
