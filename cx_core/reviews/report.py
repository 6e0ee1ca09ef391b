"""Tables for showing a model's held-out evaluation (pure functions of the metrics dict)."""

from __future__ import annotations

import pandas as pd

from cx_core.reviews.model import RATING_LABELS, SENTIMENT_LABELS


def _row(name: str, head: str, m: dict) -> dict:
    return {
        "model": name,
        "head": head,
        "accuracy": m.get("accuracy"),
        "macro_f1": m.get("macro_f1"),
        "auc": m.get("auc_ovr", m.get("macro_auc")),
        "reviews": m.get("n"),
    }


def evaluation_table(metrics: dict) -> pd.DataFrame:
    """One row per head (ours) plus the baseline's sentiment row, for a side-by-side view."""
    rows = []
    ours = f"ours ({metrics.get('mode', '?')}, {metrics.get('sentiment_method', '?')})"
    for head in ("sentiment", "rating"):
        if head in metrics:
            rows.append(_row(ours, head, metrics[head]))
    if "baseline" in metrics:
        rows.append(_row(baseline_label(metrics["baseline"]), "sentiment", metrics["baseline"]))
    for head in ("aspects", "risk"):
        if head in metrics:
            rows.append(_row(ours + " vs weak labels", head, metrics[head]))
    return pd.DataFrame(rows, columns=["model", "head", "accuracy", "macro_f1", "auc", "reviews"])


def baseline_label(baseline: dict) -> str:
    """The baseline's method with the C its cross-validation chose."""
    name = baseline.get("method", "baseline")
    return f"{name}, C = {baseline['C']:g}" if baseline.get("C") is not None else name


def per_class_table(metrics: dict) -> pd.DataFrame:
    """Precision, recall and F1 of each sentiment class, ours next to the baseline."""
    rows = []
    for who, m in (("ours", metrics.get("sentiment", {})), ("baseline", metrics.get("baseline", {}))):
        for label, v in (m.get("per_class") or {}).items():
            rows.append(
                {
                    "model": who,
                    "class": label,
                    "precision": v.get("precision"),
                    "recall": v.get("recall"),
                    "f1": v.get("f1"),
                    "reviews": v.get("support"),
                }
            )
    return pd.DataFrame(rows, columns=["model", "class", "precision", "recall", "f1", "reviews"])


def data_notes(metrics: dict) -> list[str]:
    """Plain notes on the training data: sentiment source and classes, duplicates, language."""
    notes = []
    labels = metrics.get("sentiment_labels")
    if labels:
        source = {"label": "the sentiment label field", "rating": "star ratings"}.get(
            metrics.get("sentiment_source", ""), "star ratings"
        )
        notes.append(f"Sentiment learned from {source}: {' / '.join(labels)}.")
    if metrics.get("sentiment_note"):
        notes.append(str(metrics["sentiment_note"]).capitalize() + ".")
    dupes = metrics.get("duplicates_removed")
    if dupes:
        notes.append(
            f"{dupes:,} exact-duplicate review texts were removed before the split, "
            "so no held-out text is also a training text."
        )
    return notes


def language_warning(metrics: dict) -> str:
    """The language check's message ('' when the texts are mostly English)."""
    return str((metrics.get("language") or {}).get("message") or "")


def confusion_frame(metrics: dict, head: str = "sentiment", baseline: bool = False) -> pd.DataFrame:
    """Confusion matrix of a multiclass head (rows = true, columns = predicted)."""
    m = metrics.get("baseline" if baseline else head, {})
    labels = m.get("labels") or (SENTIMENT_LABELS if head == "sentiment" else RATING_LABELS)
    if len(cm := m.get("confusion") or []) != len(labels):
        return pd.DataFrame()
    cm = m.get("confusion")
    if not cm:
        return pd.DataFrame()
    return pd.DataFrame(cm, index=[f"true {x}" for x in labels], columns=[f"predicted {x}" for x in labels])


def label_table(metrics: dict, head: str) -> pd.DataFrame:
    """Per-label AUC / F1 of a multilabel head against its weak labels."""
    per = metrics.get(head, {}).get("per_label", {})
    return pd.DataFrame(
        [{"label": k, **v} for k, v in per.items()], columns=["label", "positives", "auc", "f1"]
    )
