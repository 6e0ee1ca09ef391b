"""Train and evaluate the review model on the workspace's reviews (headless: CLI, app, tests).

``train_review_model`` embeds the reviews (cached), builds the targets (the
sentiment label field or ratings -> sentiment; ratings -> rating; weak labels ->
aspects and risk), drops exact-duplicate texts, holds out a stratified test
share, trains on the rest, evaluates ours and the balanced, CV-tuned TF-IDF + LR
baseline on the held-out reviews, saves the model folder and records the run.
Sentiment has three classes, or two (negative / positive) when the labels have
no (or too few) neutral reviews; without enough labels per class it is
zero-shot. Mostly non-English texts are flagged (:mod:`cx_core.reviews.language`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from cx_core.config import Config
from cx_core.progress import CountProgress, Progress
from cx_core.reviews import evaluate as ev
from cx_core.reviews.language import check_language
from cx_core.reviews.model import (
    BINARY_SENTIMENT_LABELS,
    RATING_LABELS,
    SENTIMENT_LABELS,
    ReviewModel,
    build_review_model,
)
from cx_core.reviews.store import new_model_id, record_training
from cx_core.reviews.taxonomy import auto_choose_starter, load_taxonomy
from cx_core.reviews.train import ReviewTrainer, TrainingSet, rating_classes, sentiment_from_ratings
from cx_core.reviews.weak import AspectLabeller, RiskLabeller
from cx_core.reviews.zeroshot import (
    install_zero_shot_sentiment,
    prompt_texts,
    prototypes,
    split_prompt_vectors,
)
from cx_core.store.db import Workspace
from cx_core.text.embeddings import embed_texts_cached
from cx_core.text.encoder import TextEncoder

SUPERVISED, ZERO_SHOT = "supervised", "zero-shot"
#: where sentiment targets come from (``reviews.sentiment_source``)
SOURCES = ("auto", "label", "rating")
_LABEL_CODES = {"negative": 0, "neutral": 1, "positive": 2}


@dataclass
class TrainResult:
    """A finished training: the model, its folder and its held-out metrics."""

    model: ReviewModel
    model_dir: Path
    metrics: dict[str, Any]


def load_review_rows(ws: Workspace, dataset_id: str | None = None) -> pd.DataFrame:
    """dataset_id, review_id, text, rating, label of reviews with text (optionally one dataset)."""
    sql = "SELECT dataset_id, review_id, text, rating, label FROM reviews WHERE length(trim(text)) > 0"
    params: list[Any] = []
    if dataset_id:
        sql += " AND dataset_id = ?"
        params.append(dataset_id)
    return ws.query_df(sql + " ORDER BY dataset_id, review_id", params)


def _stage(progress: Progress | None, lo: float, hi: float, label: str) -> CountProgress | None:
    """A (done, total) callback mapped onto [lo, hi] of the overall progress."""
    if progress is None:
        return None
    return lambda done, total: progress(lo + (hi - lo) * done / max(total, 1), f"{label} {done:,}/{total:,}")


def aspect_labeller(ws: Workspace, encoder: Any, taxonomy: dict[str, list[str]]) -> AspectLabeller:
    """The weak aspect labeller with prototypes from the (cached) seed-phrase embeddings."""
    seeds = [s for a in taxonomy for s in taxonomy[a]]
    vecs = embed_texts_cached(ws, encoder, seeds) if seeds else np.zeros((0, 1), np.float32)
    out, lo = {}, 0
    for a, s in taxonomy.items():
        out[a] = vecs[lo : lo + len(s)]
        lo += len(s)
    return AspectLabeller(taxonomy).fit(out)


@dataclass(frozen=True)
class SentimentDesign:
    """How the sentiment head is trained: method, its labels, targets in that head's coding."""

    method: str
    labels: list[str]
    y: np.ndarray
    source: str
    note: str = ""


def labels_to_classes(labels: Sequence[Any]) -> np.ndarray:
    """negative / neutral / positive -> 0 / 1 / 2 (the 3-class coding); anything else -> -1."""
    return np.asarray(
        [_LABEL_CODES.get(str(v).lower(), -1) if isinstance(v, str) else -1 for v in labels], dtype=np.int64
    )


def sentiment_targets(
    ratings: np.ndarray, labels: Sequence[Any] | None, source: str = "auto"
) -> tuple[np.ndarray, str]:
    """3-class sentiment targets (-1 = unknown) and where they came from (``label``/``rating``).

    ``auto`` uses the label field when any review has a label, else ratings.
    """
    if source not in SOURCES:
        raise ValueError(f"sentiment source must be one of {', '.join(SOURCES)}, got {source!r}")
    from_labels = labels_to_classes(labels) if labels is not None else np.full(len(ratings), -1)
    if source == "label" or (source == "auto" and (from_labels >= 0).any()):
        return from_labels, "label"
    return sentiment_from_ratings(ratings), "rating"


def sentiment_design(y3: np.ndarray, min_per_class: int, source: str = "rating") -> SentimentDesign:
    """Three classes when each has ``min_per_class`` examples; two (negative / positive) when only
    neutral is short (a binary label set: neutral rows then train no sentiment); else zero-shot."""
    counts = np.bincount(y3[y3 >= 0], minlength=3)
    need = max(min_per_class, 2)
    what = "labelled" if source == "label" else "rated"
    if counts.min() >= need:
        return SentimentDesign(SUPERVISED, list(SENTIMENT_LABELS), y3, source)
    if counts[0] >= need and counts[2] >= need:
        y2 = np.where(y3 == 0, 0, np.where(y3 == 2, 1, -1)).astype(np.int64)
        note = (
            ""
            if counts[1] == 0
            else f"only {counts[1]:,} neutral {what} reviews (fewer than {need}): sentiment is "
            "binary (negative / positive) and the neutral ones train no sentiment"
        )
        return SentimentDesign(SUPERVISED, list(BINARY_SENTIMENT_LABELS), y2, source, note)
    short = ", ".join(f"{n:,} {lab}" for lab, n in zip(SENTIMENT_LABELS, counts))
    return SentimentDesign(
        ZERO_SHOT,
        list(SENTIMENT_LABELS),
        y3,
        source,
        f"too few {what} reviews per class ({short}; {need} needed): sentiment is zero-shot",
    )


def choose_sentiment(
    ratings: np.ndarray, labels: Sequence[Any] | None, source: str, min_per_class: int
) -> SentimentDesign:
    """The sentiment design from the label field or the ratings (``source``: auto, label, rating).

    ``auto`` takes the labels when any review has one, unless they are too few to
    train and the ratings are enough.
    """
    y3, used = sentiment_targets(ratings, labels, source)
    design = sentiment_design(y3, min_per_class, used)
    if source == "auto" and used == "label" and design.method == ZERO_SHOT:
        by_rating = sentiment_design(sentiment_from_ratings(ratings), min_per_class, "rating")
        if by_rating.method == SUPERVISED:
            return by_rating
    return design


def sentiment_method(y: np.ndarray, min_per_class: int) -> str:
    """Supervised when the classes allow a 3-class or a binary head (see :func:`sentiment_design`)."""
    return sentiment_design(y, min_per_class).method


def build_targets(
    texts: Sequence[str],
    ratings: np.ndarray,
    deep: np.ndarray,
    labeller: AspectLabeller,
    labels: Sequence[Any] | None = None,
    source: str = "auto",
) -> dict[str, np.ndarray]:
    """Per-head training targets: labels or ratings for sentiment (3-class coding), ratings for
    rating, weak labels for aspects/risk."""
    return {
        "sentiment": sentiment_targets(ratings, labels, source)[0],
        "rating": rating_classes(ratings),
        "aspects": labeller.transform(texts, deep),
        "risk": RiskLabeller().fit().transform(texts, ratings),
    }


def split(
    y: np.ndarray, test_share: float, seed: int, drop: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Held-out rows among the labelled reviews (stratified); unlabelled reviews always train.

    Rows where ``drop`` is True (exact-duplicate texts) are in neither part.
    """
    keep = np.ones(len(y), bool) if drop is None else ~np.asarray(drop, bool)
    rated = np.flatnonzero((y >= 0) & keep)
    if len(rated) < 10:
        return np.flatnonzero(keep), np.array([], dtype=np.int64)
    tr, te = ev.split_indices(y[rated], test_share, seed)
    train = np.sort(np.concatenate([rated[tr], np.flatnonzero((y < 0) & keep)]))
    return train, np.sort(rated[te])


def _trainer(cfg: Config, mode: str) -> ReviewTrainer:
    r = cfg.reviews
    if mode == "finetune":
        return ReviewTrainer(
            mode=mode,
            epochs=r.finetune_epochs,
            batch_size=r.batch_size if r.finetune_layers else min(r.batch_size, 16),
            max_texts=r.finetune_max_texts,
            seed=r.seed,
            tune_layers=r.finetune_layers,
            encoder_lr=r.finetune_lr,
            time_budget_s=r.finetune_minutes * 60,
        )
    return ReviewTrainer(
        mode=mode, epochs=r.epochs, batch_size=r.batch_size, min_steps=r.min_steps, seed=r.seed
    )


def heads_proba(
    model: ReviewModel, texts: Sequence[str], deep: np.ndarray | None, batch_size: int = 256
) -> dict[str, np.ndarray]:
    """Head probabilities; frozen models use the given cached ``deep`` vectors."""
    if model.mode == "finetune" or deep is None:
        return model.predict_texts(list(texts))
    model.eval()
    parts: dict[str, list[np.ndarray]] = {h: [] for h in model.heads_}
    with torch.no_grad():
        for lo in range(0, len(texts), batch_size):
            ids, mask = model.tokenize(list(texts[lo : lo + batch_size]))
            d = torch.as_tensor(deep[lo : lo + batch_size], device=model.device) if model.use_deep else None
            lex = model.lexical_features(ids, mask) if model.lexical is not None else None
            for h, p in model.probabilities(model.logits_from_features(d, lex)).items():
                parts[h].append(p)
    return {
        h: np.concatenate(v) if v else np.zeros((0, len(model.heads_[h])), np.float32)
        for h, v in parts.items()
    }


def evaluate_split(
    model: ReviewModel,
    data: TrainingSet,
    train: np.ndarray,
    test: np.ndarray,
    method: str,
    baseline: bool = True,
) -> dict[str, Any]:
    """Held-out metrics of every head, and of the TF-IDF + LR baseline for sentiment."""
    out: dict[str, Any] = {"n_train": int(len(train)), "n_test": int(len(test)), "sentiment_method": method}
    if not len(test):
        out["note"] = "too few rated reviews to hold any out: no held-out metrics"
        return out
    tdata = data.subset(test)
    proba = heads_proba(model, tdata.texts, tdata.deep)
    y = tdata.targets["sentiment"]
    labels = model.heads_["sentiment"]
    out["sentiment"] = ev.classification_metrics(y, proba["sentiment"], labels)
    if "rating" in proba:
        r = tdata.targets["rating"]
        out["rating"] = ev.classification_metrics(r, proba["rating"], RATING_LABELS)
        pred = proba["rating"] @ np.arange(1, 6)
        out["rating"]["mae"] = round(float(np.abs(pred[r >= 0] - (r[r >= 0] + 1)).mean()), 4)
    for head in ("aspects", "risk"):
        out[head] = ev.multilabel_metrics(tdata.targets[head], proba[head], model.heads_[head])
    trd = data.subset(train)
    y_train = trd.targets["sentiment"]
    if baseline and (y >= 0).sum() and len(np.unique(y_train[y_train >= 0])) > 1:
        out["baseline"] = ev.tfidf_baseline(trd.texts, trd.targets["sentiment"], tdata.texts, y, labels)
    return out


def prepare(
    ws: Workspace, cfg: Config, encoder: TextEncoder, dataset_id: str | None, progress: Progress | None
) -> tuple[pd.DataFrame, TrainingSet, AspectLabeller, dict]:
    """Reviews, their training set (with cached embeddings), the labeller and the taxonomy."""
    rows = load_review_rows(ws, dataset_id)
    if rows.empty:
        raise ValueError("No reviews with text to train on: load reviews on the Data page first.")
    texts = rows["text"].tolist()
    deep = embed_texts_cached(ws, encoder, texts, _stage(progress, 0.0, 0.5, "Embedding reviews"))
    auto_choose_starter(ws)  # an untouched, automatically chosen list follows the data
    taxonomy = load_taxonomy(ws)
    labeller = aspect_labeller(ws, encoder, taxonomy)
    ratings = rows["rating"].to_numpy(dtype=float, na_value=np.nan)
    labels = rows["label"].tolist() if "label" in rows else None
    data = TrainingSet(
        texts, build_targets(texts, ratings, deep, labeller, labels, cfg.reviews.sentiment_source), deep
    )
    return rows, data, labeller, taxonomy


def train_review_model(
    ws: Workspace,
    cfg: Config,
    mode: str | None = None,
    dataset_id: str | None = None,
    encoder: TextEncoder | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Train, evaluate (ours vs baseline on a held-out split), save and record a review model."""
    started = datetime.now()
    mode = mode or cfg.reviews.mode
    encoder = encoder or TextEncoder.from_config(cfg.model)
    rows, data, labeller, taxonomy = prepare(ws, cfg, encoder, dataset_id, progress)
    design = choose_sentiment(
        rows["rating"].to_numpy(dtype=float, na_value=np.nan),
        rows["label"].tolist(),
        cfg.reviews.sentiment_source,
        cfg.reviews.min_per_class,
    )
    method, y = design.method, design.y
    data.targets["sentiment"] = y
    dupes = ev.duplicate_mask(data.texts)
    train, test = split(y, cfg.reviews.test_share, cfg.reviews.seed, dupes)
    rated = int((data.targets["rating"] >= 0).sum())
    with_rating = method == SUPERVISED and rated >= max(cfg.reviews.min_per_class, 2)
    extra = {"max_length": cfg.reviews.finetune_max_length} if mode == "finetune" else {}
    model = build_review_model(
        encoder,
        list(taxonomy),
        mode=mode,
        with_rating=with_rating,
        sentiment_labels=design.labels,
        lexical_dim=cfg.reviews.lexical_dim,
        **extra,
    )
    if not with_rating:
        data.targets.pop("rating")
    if method == ZERO_SHOT:
        vecs = embed_texts_cached(ws, encoder, prompt_texts())
        install_zero_shot_sentiment(model, prototypes(split_prompt_vectors(vecs)))
        data.targets.pop("sentiment")
    train_start = time.perf_counter()
    trainer = _trainer(cfg, mode).fit(model, data.subset(train), _frac(progress, 0.5, 0.9, "Training"))
    train_s = round(time.perf_counter() - train_start, 1)
    if method == ZERO_SHOT:
        data.targets["sentiment"] = y
    if progress:
        progress(0.9, "Evaluating on held-out reviews")
    metrics = evaluate_split(model, data, train, test, method)
    metrics.update(
        history=trainer.history_,
        mode=mode,
        device=str(model.device),
        n_train_used=trainer.n_train_,
        train_s=train_s,
        train_texts=int(len(train)),
        threads=torch.get_num_threads(),
        best_epoch=getattr(trainer, "best_epoch_", None),
        sentiment_source=design.source,
        sentiment_labels=design.labels,
        duplicates_removed=int(dupes.sum()),
        language=check_language(data.texts, seed=cfg.reviews.seed).to_dict(),
    )
    if design.note:
        metrics["sentiment_note"] = design.note
    model_id = new_model_id(mode)
    model.model_id_ = model_id
    model.meta_.update(
        model_id=model_id,
        sentiment_method=method,
        sentiment_source=design.source,
        taxonomy=taxonomy,
        dataset_id=dataset_id,
        trained_at=started.isoformat(timespec="seconds"),
        trainer={k: v for k, v in vars(trainer).items() if not k.endswith("_")},
    )
    out_dir = model.save(Path(cfg.reviews.model_store) / model_id, metrics)
    record_training(
        ws,
        model_id,
        out_dir,
        dataset_id or "all",
        {
            "mode": mode,
            "sentiment_method": method,
            "sentiment_source": design.source,
            "sentiment_labels": design.labels,
            "dataset_id": dataset_id,
            "encoder_id": model.encoder_id_,
        },
        metrics,
        started,
    )
    if progress:
        progress(1.0, f"Saved model {model_id}")
    return TrainResult(model, out_dir, metrics)


def _frac(progress: Progress | None, lo: float, hi: float, label: str) -> Progress | None:
    """A (frac, msg) callback mapped onto [lo, hi]."""
    if progress is None:
        return None
    return lambda f, msg: progress(lo + (hi - lo) * f, f"{label}: {msg}")
