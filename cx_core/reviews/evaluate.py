"""Held-out evaluation of the review model, always next to the TF-IDF + logistic-regression baseline.

Metrics per head: accuracy, macro-F1, AUC (one-vs-rest macro for multiclass
heads) and the confusion matrix; multilabel heads (aspects, risk) are scored
against their weak labels (AUC and F1 per label), which says how well the model
learned the labeller, not how right the labeller is.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

BASELINE = "TF-IDF (word 1-2 grams) + logistic regression"


def split_indices(y: np.ndarray, test_size: float = 0.2, seed: int = 42
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train / test row positions (classes with < 2 rows go to train)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    counts = np.bincount(y - y.min()) if len(y) else np.array([])
    if len(y) < 10 or (counts[counts > 0] < 2).any():
        return train_test_split(idx, test_size=test_size, random_state=seed)
    return train_test_split(idx, test_size=test_size, random_state=seed, stratify=y)


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, labels: Sequence[str]
                           ) -> dict:
    """Accuracy, macro-F1, one-vs-rest AUC and confusion matrix of class probabilities."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score

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
        auc = (roc_auc_score(y, cols[:, 1]) if len(present) == 2 else
               roc_auc_score(y, cols, multi_class="ovr", labels=present))
    return {"n": int(len(y)), "accuracy": round(float(accuracy_score(y, pred)), 4),
            "macro_f1": round(float(f1_score(y, pred, labels=list(range(k)), average="macro",
                                             zero_division=0)), 4),
            "auc_ovr": None if auc is None else round(float(auc), 4),
            "labels": list(labels),
            "confusion": confusion_matrix(y, pred, labels=list(range(k))).tolist()}


def multilabel_metrics(y_true: np.ndarray, proba: np.ndarray, labels: Sequence[str]) -> dict:
    """Per-label AUC and F1 (threshold 0.5) against (weak) 0/1 labels, plus their macro means."""
    from sklearn.metrics import f1_score, roc_auc_score

    per = {}
    for j, name in enumerate(labels):
        y, p = y_true[:, j], proba[:, j]
        auc = roc_auc_score(y, p) if 0 < y.sum() < len(y) else None
        per[name] = {"positives": int(y.sum()), "auc": None if auc is None else round(float(auc), 4),
                     "f1": round(float(f1_score(y, p >= 0.5, zero_division=0)), 4)}
    aucs = [v["auc"] for v in per.values() if v["auc"] is not None]
    return {"n": int(len(y_true)), "per_label": per,
            "macro_auc": round(float(np.mean(aucs)), 4) if aucs else None,
            "macro_f1": round(float(np.mean([v["f1"] for v in per.values()])), 4) if per else None,
            "note": "against weak labels"}


def tfidf_baseline(train_texts: Sequence[str], y_train: np.ndarray, test_texts: Sequence[str],
                   y_test: np.ndarray, labels: Sequence[str], balanced: bool = False,
                   seed: int = 0) -> dict:
    """The baseline a user would pick: TF-IDF word 1-2 grams + logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    keep = y_train >= 0
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x_train = vec.fit_transform([t for t, k in zip(train_texts, keep) if k])
    clf = LogisticRegression(max_iter=2000, class_weight="balanced" if balanced else None,
                             random_state=seed)
    clf.fit(x_train, y_train[keep])
    proba = np.zeros((len(test_texts), len(labels)))
    proba[:, clf.classes_] = clf.predict_proba(vec.transform(list(test_texts)))
    out = classification_metrics(y_test, proba, labels)
    out["method"] = BASELINE + (" (balanced class weights)" if balanced else "")
    return out
