"""Score every review with a trained model and write ``review_scores`` under a new run id.

Sentence vectors come from the embedding cache (frozen models share it with
``python -m cx_core embed``; fine-tuned models cache under their own id), so a
second scoring run encodes nothing new. Aspect-level sentiment scores each
clause that names an aspect with the same model.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from cx_core.progress import CountProgress, Progress
from cx_core.reviews.clauses import aspect_clauses, aspect_scores
from cx_core.reviews.model import ReviewModel, sentiment_parts
from cx_core.reviews.pipeline import SUPERVISED, heads_proba, load_review_rows
from cx_core.reviews.weak import AspectLabeller
from cx_core.store.db import Workspace
from cx_core.store.runs import get, record_run
from cx_core.text.embeddings import embed_texts_cached

STAGE = "review_scores"
SCORE_COLUMNS = (
    "run_id",
    "dataset_id",
    "review_id",
    "model_id",
    "sentiment_method",
    "sentiment",
    "p_negative",
    "p_neutral",
    "p_positive",
    "sentiment_score",
    "rating_pred",
    "aspects",
    "aspect_sentiment_json",
    "risk",
    "risk_flags",
)
THRESHOLD = 0.5


class FeatureEncoder:
    """The model's own encoder behind the embedding-cache interface (``identify``, ``encode``).

    Frozen models report the base encoder's id (shared cache); fine-tuned ones
    ``<model_id>/encoder`` so their vectors never mix with the base model's.
    """

    def __init__(self, model: ReviewModel) -> None:
        self.model = model

    @property
    def dim_(self) -> int:
        """Vector size."""
        return self.model.deep_dim_

    def identify(self) -> str:
        """Cache key of these vectors."""
        if self.model.mode == "finetune":
            if self.model.model_id_ == "untrained":
                raise ValueError("a fine-tuned model needs its model id before scoring")
            return f"{self.model.model_id_}/encoder"
        return self.model.encoder_id_

    def encode(self, texts: Sequence[str], progress: CountProgress | None = None) -> np.ndarray:
        """Unit vectors from the model's encoder (same maths as ``forward_logits``)."""
        self.model.eval()
        return self.model.text_encoder_.encode(list(texts), progress=progress)


@dataclass
class ScoreResult:
    """A finished scoring run."""

    run_id: str
    scores: pd.DataFrame
    metrics: dict[str, Any]


def _labeller(model: ReviewModel) -> AspectLabeller:
    taxonomy = model.meta_.get("taxonomy") or {a: [a] for a in model.heads_["aspects"]}
    return AspectLabeller({a: taxonomy.get(a, [a]) for a in model.heads_["aspects"]}).fit(None)


def clause_sentiment(
    ws: Workspace, model: ReviewModel, texts: Sequence[str], progress: CountProgress | None = None
) -> list[dict[str, float]]:
    """``{aspect: score in [-1, 1]}`` per text from the clauses that name each aspect."""
    per_review = aspect_clauses(texts, _labeller(model).match)
    clauses = sorted({c for review in per_review for c, _ in review})
    score: dict[str, float] = {}
    if clauses:
        deep = embed_texts_cached(ws, FeatureEncoder(model), clauses, progress) if model.use_deep else None
        neg, _, pos = sentiment_parts(
            model.heads_["sentiment"], heads_proba(model, clauses, deep)["sentiment"]
        )
        score = dict(zip(clauses, (pos - neg).tolist()))
    return aspect_scores(per_review, score, model.heads_["aspects"])


def score_frame(
    model: ReviewModel,
    rows: pd.DataFrame,
    proba: dict[str, np.ndarray],
    aspect_sent: list[dict[str, float]],
    run_id: str,
) -> pd.DataFrame:
    """The ``review_scores`` rows of one run (``p_neutral`` is NULL for a binary sentiment head)."""
    ps, aspects, risk = proba["sentiment"], proba["aspects"], proba["risk"]
    p_neg, p_neu, p_pos = sentiment_parts(model.heads_["sentiment"], ps)
    names, flags = model.heads_["aspects"], model.heads_["risk"]
    found = [
        sorted({names[j] for j in np.flatnonzero(aspects[i] >= THRESHOLD)} | set(aspect_sent[i]))
        for i in range(len(rows))
    ]
    return pd.DataFrame(
        {
            "run_id": run_id,
            "dataset_id": rows["dataset_id"].to_numpy(),
            "review_id": rows["review_id"].to_numpy(),
            "model_id": model.model_id_,
            "sentiment_method": model.meta_.get("sentiment_method", SUPERVISED),
            "sentiment": np.asarray(model.heads_["sentiment"])[ps.argmax(1)],
            "p_negative": p_neg,
            "p_neutral": p_neu,
            "p_positive": p_pos,
            "sentiment_score": p_pos - p_neg,
            "rating_pred": proba["rating"] @ np.arange(1, 6) if "rating" in proba else np.nan,
            "aspects": found,
            "aspect_sentiment_json": [json.dumps(a, sort_keys=True) for a in aspect_sent],
            "risk": risk[:, 0],
            "risk_flags": [[flags[j] for j in np.flatnonzero(r[1:] >= THRESHOLD) + 1] for r in risk],
        },
        columns=list(SCORE_COLUMNS),
    )


def write_scores(
    ws: Workspace, frame: pd.DataFrame, model: ReviewModel, metrics: dict, started: datetime, dataset_key: str
) -> None:
    """Insert the scores and the ``runs`` row in one transaction."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    run_id = str(frame["run_id"].iloc[0]) if len(frame) else metrics["run_id"]
    cols = ", ".join(SCORE_COLUMNS)
    with ws.write() as cur:
        cur.register("_cx_new_scores", table)
        try:
            cur.execute(f"INSERT INTO review_scores ({cols}) SELECT {cols} FROM _cx_new_scores")
        finally:
            cur.unregister("_cx_new_scores")
        record_run(
            cur,
            run_id,
            STAGE,
            dataset_key,
            {
                "model_id": model.model_id_,
                "mode": model.mode,
                "sentiment_method": model.meta_.get("sentiment_method", SUPERVISED),
                "sentiment_labels": list(model.heads_["sentiment"]),
            },
            started,
            metrics,
        )


def carried_scores(ws: Workspace, run_id: str, model: ReviewModel, rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of scoring run ``run_id`` for reviews still in ``rows`` (same model required)."""
    found = get(ws, run_id, STAGE)
    used = None if found is None else found.config.get("model_id")
    if found is None:
        raise ValueError(f"No finished scoring run {run_id!r} to carry scores from.")
    if used != model.model_id_:
        raise ValueError(
            f"Scoring run {run_id} used model {used}, not {model.model_id_}: "
            "scores of different models are not carried over."
        )
    cols = ", ".join(c for c in SCORE_COLUMNS if c != "run_id")
    old = ws.query_df(f"SELECT {cols} FROM review_scores WHERE run_id = ?", [run_id])
    return rows[["dataset_id", "review_id"]].merge(old, on=["dataset_id", "review_id"])


def _fresh_scores(
    ws: Workspace, model: ReviewModel, rows: pd.DataFrame, run_id: str, progress: Progress | None
) -> pd.DataFrame:
    """Score ``rows`` with the model (vectors from the embedding cache)."""
    texts = rows["text"].tolist()
    if not texts:
        return pd.DataFrame(columns=list(SCORE_COLUMNS))
    step = (
        None
        if progress is None
        else (
            lambda done, total: progress(0.8 * done / max(total, 1), f"Embedding reviews {done:,}/{total:,}")
        )
    )
    deep = embed_texts_cached(ws, FeatureEncoder(model), texts, step) if model.use_deep else None
    if progress:
        progress(0.8, f"Scoring {len(texts):,} reviews")
    proba = heads_proba(model, texts, deep)
    clause_step = (
        None
        if progress is None
        else (
            lambda done, total: progress(
                0.85 + 0.1 * done / max(total, 1), f"Embedding clauses {done:,}/{total:,}"
            )
        )
    )
    aspect_sent = clause_sentiment(ws, model, texts, clause_step)
    return score_frame(model, rows, proba, aspect_sent, run_id)


def score_reviews(
    ws: Workspace,
    model: ReviewModel,
    progress: Progress | None = None,
    dataset_id: str | None = None,
    carry_from: str | None = None,
) -> ScoreResult:
    """Score every review (or one dataset's) and store the run; returns the rows written.

    With ``carry_from`` (an earlier scoring run of the same model) the new run
    copies that run's rows for reviews still present and scores only the
    reviews it lacks; metrics count ``newly_scored`` and ``carried``.
    """
    started = datetime.now()
    rows = load_review_rows(ws, dataset_id)
    if rows.empty:
        raise ValueError("No reviews with text to score: load reviews on the Data page first.")
    run_id = f"rs_{started:%Y%m%d_%H%M%S}_{uuid.uuid4().hex[:6]}"
    carried = (
        carried_scores(ws, carry_from, model, rows)
        if carry_from
        else pd.DataFrame(columns=[c for c in SCORE_COLUMNS if c != "run_id"])
    )
    done = pd.MultiIndex.from_frame(carried[["dataset_id", "review_id"]].astype(str))
    todo = rows[~pd.MultiIndex.from_frame(rows[["dataset_id", "review_id"]].astype(str)).isin(done)]
    fresh = _fresh_scores(ws, model, todo.reset_index(drop=True), run_id, progress)
    parts = [f for f in (carried.assign(run_id=run_id)[list(SCORE_COLUMNS)], fresh) if len(f)]
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
    frame = frame.sort_values(["dataset_id", "review_id"], kind="stable", ignore_index=True)
    counts = frame["sentiment"].value_counts().to_dict()
    metrics = {
        "run_id": run_id,
        "reviews": int(len(frame)),
        "sentiment_counts": counts,
        "mean_sentiment_score": round(float(frame["sentiment_score"].mean()), 4),
        "at_risk_share": round(float((frame["risk"] >= THRESHOLD).mean()), 4),
        "newly_scored": int(len(fresh)),
        "carried": int(len(carried)),
        "carried_from": carry_from,
        "seconds": round((datetime.now() - started).total_seconds(), 2),
    }
    write_scores(ws, frame, model, metrics, started, dataset_id or "all")
    if progress:
        note = f", carried {len(carried):,}" if carry_from else ""
        progress(1.0, f"Scored {len(fresh):,} reviews{note}")
    return ScoreResult(run_id, frame, metrics)
