"""Tables for showing a model's held-out evaluation (pure functions of the metrics dict)."""

from __future__ import annotations

import pandas as pd

from cx_core.reviews.model import RATING_LABELS, SENTIMENT_LABELS


def _row(name: str, head: str, m: dict) -> dict:
    return {"model": name, "head": head, "accuracy": m.get("accuracy"),
            "macro_f1": m.get("macro_f1"), "auc": m.get("auc_ovr", m.get("macro_auc")),
            "reviews": m.get("n")}


def evaluation_table(metrics: dict) -> pd.DataFrame:
    """One row per head (ours) plus the baseline's sentiment row, for a side-by-side view."""
    rows = []
    ours = f"ours ({metrics.get('mode', '?')}, {metrics.get('sentiment_method', '?')})"
    for head in ("sentiment", "rating"):
        if head in metrics:
            rows.append(_row(ours, head, metrics[head]))
    if "baseline" in metrics:
        rows.append(_row(metrics["baseline"].get("method", "baseline"), "sentiment",
                         metrics["baseline"]))
    for head in ("aspects", "risk"):
        if head in metrics:
            rows.append(_row(ours + " vs weak labels", head, metrics[head]))
    return pd.DataFrame(rows, columns=["model", "head", "accuracy", "macro_f1", "auc", "reviews"])


def confusion_frame(metrics: dict, head: str = "sentiment", baseline: bool = False) -> pd.DataFrame:
    """Confusion matrix of a multiclass head (rows = true, columns = predicted)."""
    m = metrics.get("baseline" if baseline else head, {})
    labels = m.get("labels") or (SENTIMENT_LABELS if head == "sentiment" else RATING_LABELS)
    cm = m.get("confusion")
    if not cm:
        return pd.DataFrame()
    return pd.DataFrame(cm, index=[f"true {x}" for x in labels],
                        columns=[f"predicted {x}" for x in labels])


def label_table(metrics: dict, head: str) -> pd.DataFrame:
    """Per-label AUC / F1 of a multilabel head against its weak labels."""
    per = metrics.get(head, {}).get("per_label", {})
    return pd.DataFrame([{"label": k, **v} for k, v in per.items()],
                        columns=["label", "positives", "auc", "f1"])
