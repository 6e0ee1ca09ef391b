"""Extend a theme run after new reviews instead of refitting it (used by ``python -m cx_core run``).

Reviews that the base run did not cluster (absent from its ``review_themes``),
or that come from a dataset loaded after it started, are *moving*; every other
review keeps its theme and outlier flag.  Moving reviews are placed into the
existing themes by their nearest fixed reviews in the review-embedding space
with :class:`~cx_core.cluster.NeighbourPlacer` (the placement ``segments_extend``
uses).  The result is a NEW complete theme run: theme names and keywords come
from the base run, sizes, shares, representative reviews and taxonomy overlap
are recomputed from the members, and ``promoted_as`` is kept.  When moving
reviews exceed ``max_share`` of the usable reviews, or the base run used other
settings or another encoder, nothing is written and the caller refits.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from cx_core.progress import Progress
from cx_core.segments.extend import Extension, quick_share
from cx_core.store.db import Workspace
from cx_core.store.runs import datasets_since, get
from cx_core.themes.run import (
    OUTLIER,
    STAGE,
    ThemeSettings,
    embed_theme_texts,
    save_theme_run,
    taxonomy_overlap,
    theme_metrics,
    theme_table,
    usable_review_vectors,
)


def _base_run(ws: Workspace, run_id: str) -> tuple[dict, dict]:
    """(config, metrics) of a finished theme run; ``ValueError`` when there is none."""
    run = get(ws, run_id, STAGE)
    if run is None:
        raise ValueError(f"No finished theme run {run_id!r} to extend.")
    return run.config, run.metrics


def moving_reviews(ws: Workspace, frame: pd.DataFrame, run_id: str) -> tuple[np.ndarray, pd.DataFrame]:
    """(mask of moving rows, the base assignment of each row: theme_id, is_outlier; NaN if none)."""
    base = ws.query_df(
        "SELECT dataset_id, review_id, theme_id, is_outlier FROM review_themes WHERE run_id = ?", [run_id]
    )
    got = frame[["dataset_id", "review_id"]].merge(base, how="left", on=["dataset_id", "review_id"])
    new_ds = set(datasets_since(ws, run_id))
    moving = got["theme_id"].isna().to_numpy() | frame["dataset_id"].isin(sorted(new_ds)).to_numpy()
    return moving, got


def place_reviews(X: np.ndarray, labels: np.ndarray, raw: np.ndarray, moving: np.ndarray) -> None:
    """Fill the moving rows of ``labels``/``raw`` from their nearest fixed rows (in place)."""
    from cx_core.cluster import NeighbourPlacer

    fixed = ~moving
    if not moving.any() or not fixed.any():
        return
    got = NeighbourPlacer().fit(X[fixed], labels[fixed], raw[fixed]).place(X[moving])
    labels[moving], raw[moving] = got.labels, got.raw_labels


def _base_fit(
    ws: Workspace,
    run_id: str,
    frame: pd.DataFrame,
    X: np.ndarray,
    labels: np.ndarray,
    raw: np.ndarray,
    seconds: float,
) -> dict[str, Any]:
    """The ``fit`` dict :func:`~cx_core.themes.run.theme_table` reads: base names and keywords,
    representatives recomputed from the members."""
    from cx_core.cluster import representative_indices

    old = ws.query_df("SELECT theme_id, name, keywords_json FROM themes WHERE run_id = ?", [run_id])
    return {
        "raw": raw,
        "labels": labels,
        "names": dict(zip(old["theme_id"].astype(int), old["name"])),
        "keywords": {
            int(t): [tuple(p) for p in json.loads(k or "[]")]
            for t, k in zip(old["theme_id"], old["keywords_json"])
        },
        "representatives": representative_indices(X, raw, k=3),
        "timings": {"place": round(seconds, 3)},
    }


def _promoted(ws: Workspace, run_id: str, table: pd.DataFrame) -> pd.DataFrame:
    """The table with the base run's ``promoted_as`` per theme."""
    old = ws.query_df("SELECT theme_id, promoted_as FROM themes WHERE run_id = ?", [run_id])
    promoted = dict(zip(old["theme_id"].astype(int), old["promoted_as"]))
    out = table.copy()
    out["promoted_as"] = [
        promoted.get(int(t)) if pd.notna(promoted.get(int(t))) else None for t in out["theme_id"]
    ]
    return out


def _too_many(n: int, share: float, max_share: float) -> Extension:
    return Extension(None, f"{share:.1%} of the reviews are new (refit above {max_share:.0%})", n, share)


def extend_themes(
    ws: Workspace,
    base_run: str,
    encoder: Any,
    max_share: float = 0.2,
    progress: Progress | None = None,
    settings: ThemeSettings | None = None,
) -> Extension:
    """A new theme run = ``base_run``'s assignments + the new reviews placed into its themes.

    Returns an :class:`~cx_core.segments.extend.Extension` whose ``run_id`` is None (with the
    reason) when the new reviews exceed ``max_share`` of the usable reviews, or when
    ``settings`` or the encoder differ from the base run's.
    """
    from cx_core.ingest.datasets import dataset_version
    from cx_core.reviews.taxonomy import load_taxonomy

    step = progress or (lambda f, m: None)
    started, t0 = datetime.now(), time.perf_counter()
    config, metrics = _base_run(ws, base_run)
    known = set(asdict(ThemeSettings()))
    base_settings = ThemeSettings(**{k: v for k, v in config.get("settings", {}).items() if k in known})
    if settings is not None and asdict(settings) != asdict(base_settings):
        return Extension(None, "theme settings differ from the last theme run")
    if metrics.get("model_id") != encoder.identify():
        return Extension(None, "the text encoder differs from the last theme run's")
    n_new, share = quick_share(ws, "review", base_run, None)
    if base_settings.dataset_id is None and share > max_share:
        return _too_many(n_new, share, max_share)
    model_id = embed_theme_texts(ws, encoder, step)
    step(0.55, "Reading review vectors")
    frame, X, skipped = usable_review_vectors(ws, model_id, base_settings)
    moving, got = moving_reviews(ws, frame, base_run)
    share = float(moving.mean()) if len(frame) else 1.0
    if share > max_share:
        return _too_many(int(moving.sum()), share, max_share)
    step(0.7, f"Placing {int(moving.sum()):,} new reviews into the existing themes")
    t_place = time.perf_counter()
    labels = got["theme_id"].fillna(OUTLIER).to_numpy(np.int64)
    raw = np.where(got["is_outlier"].fillna(True).to_numpy(bool), OUTLIER, labels)
    place_reviews(X, labels, raw, moving)
    fit = _base_fit(ws, base_run, frame, X, labels, raw, time.perf_counter() - t_place)
    step(0.85, "Comparing themes with the aspect taxonomy")
    overlap = taxonomy_overlap(frame["text"].tolist(), raw, load_taxonomy(ws))
    table = _promoted(ws, base_run, theme_table(frame, fit, overlap, base_settings))
    out = theme_metrics(frame, fit, table, skipped, model_id)
    out.update(
        extended_from=base_run,
        placed=int(moving.sum()),
        placed_share=round(share, 4),
        seconds=round(time.perf_counter() - t0, 3),
    )
    run_id = "run_" + uuid.uuid4().hex[:10]
    new_config = {**config, "extended_from": base_run, "placed": int(moving.sum())}
    save_theme_run(ws, run_id, frame, fit, table, new_config, out, started, dataset_version(ws))
    step(1.0, f"Extended {base_run}: placed {int(moving.sum()):,} reviews")
    return Extension(
        run_id,
        f"extended {base_run}: placed {int(moving.sum()):,} new reviews "
        f"({share:.1%}; refit above {max_share:.0%})",
        int(moving.sum()),
        share,
    )
