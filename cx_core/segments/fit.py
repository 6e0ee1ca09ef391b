"""Turn :class:`~cx_core.segments.inputs.SegmentInputs` into segment labels and a 2-D map.

Vectors: the unit's (mean) review embedding as the text block, order
behaviour as the behaviour block (:class:`~cx_core.cluster.CustomerFeatureBuilder`,
each block scaled to unit variance and weighted).  Text signals (mean rating,
sentiment, risk) describe segments but are not in the vectors: the embedding
already carries them, and adding mean rating lowered the demo ARI on average
(0.73 vs 0.77 over 6 demo stores x 3 seeds).  Strategy:

* ``single`` -- every unit in one pipeline run (all units have text, or none
  do, or too few do for the next strategy; missing text is then zeros plus a
  missing-text indicator);
* ``place`` -- customers with reviews (the *anchors*, at least 20 % of the
  units and 50 customers) are segmented on text + behaviour, the others are
  placed by behaviour alone next to their nearest anchors
  (:class:`~cx_core.cluster.NeighbourPlacer`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cx_core.cluster import CustomerFeatureBuilder, NeighbourPlacer, make_pipeline
from cx_core.cluster.pipeline import default_min_cluster_size
from cx_core.progress import Progress
from cx_core.segments.inputs import SegmentInputs

MIN_UNITS = 20
ANCHOR_MIN_SHARE = 0.2
ANCHOR_MIN_ROWS = 50
STAGE_TEXT = {
    "pre_reduce": "Reducing dimensions (PCA)",
    "knn": "Finding nearest neighbours",
    "reduce": "Embedding (UMAP, seeded)",
    "cluster": "Clustering (HDBSCAN)",
    "map": "Drawing the 2-D map",
    "represent": "Naming",
}


@dataclass
class SegmentFit:
    """Per-unit results: final labels, HDBSCAN labels (-1 = noise), probability, map."""

    labels: np.ndarray
    raw_labels: np.ndarray
    probability: np.ndarray
    xy: np.ndarray
    strategy: str
    config: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def min_size_for(settings_min: int, n_units: int) -> int:
    """The minimum segment size in units: the user's, or 0.5 % of the units (at least 10)."""
    if settings_min < 0 or settings_min == 1:
        raise ValueError("minimum segment size must be 0 (auto) or at least 2")
    return int(settings_min) if settings_min else default_min_cluster_size(n_units)


def _blocks(
    inputs: SegmentInputs, text_weight: float, behaviour_weight: float
) -> tuple[np.ndarray | None, pd.DataFrame | None]:
    """The text array and the behaviour(+signals) frame the vectors are built from."""
    text = inputs.text if text_weight > 0 else None
    beh = inputs.behaviour if behaviour_weight > 0 else None
    beh = beh if beh is not None and beh.shape[1] else None
    if text is None and beh is None:
        raise ValueError(
            "Nothing to segment on: load reviews (text) or orders (behaviour), "
            "and keep at least one of the two weights above 0."
        )
    return text, beh


def choose_strategy(inputs: SegmentInputs, text: np.ndarray | None) -> tuple[str, np.ndarray]:
    """(strategy, anchor mask) -- see the module docstring."""
    all_rows = np.ones(inputs.n, dtype=bool)
    if text is None or inputs.behaviour is None or inputs.behaviour.shape[1] == 0:
        return "single", all_rows
    has = np.isfinite(text).all(axis=1)
    if has.all() or has.sum() < max(ANCHOR_MIN_ROWS, ANCHOR_MIN_SHARE * inputs.n):
        return "single", all_rows
    return "place", has


@dataclass
class StageVectors:
    """The rows the pipeline segments: vectors, which units they are, the strategy."""

    X: np.ndarray
    anchor: np.ndarray
    strategy: str
    feature_names: list[str]
    min_size: int
    stage_min_size: int


def build_vectors(inputs: SegmentInputs, settings: Any) -> StageVectors:
    """Customer vectors of the rows the pipeline runs on (all units, or the anchors)."""
    if inputs.n < MIN_UNITS:
        raise ValueError(f"Only {inputs.n} {inputs.unit_kind}s to segment; need at least {MIN_UNITS}.")
    text, beh = _blocks(inputs, settings.text_weight, settings.behaviour_weight)
    strategy, anchor = choose_strategy(inputs, text)
    rows = np.flatnonzero(anchor)
    builder = CustomerFeatureBuilder(
        text_weight=settings.text_weight, behaviour_weight=settings.behaviour_weight
    )
    X = builder.fit_transform(None if text is None else text[rows], None if beh is None else beh.iloc[rows])
    min_size = min_size_for(settings.min_size, inputs.n)
    stage_min = max(5, int(round(min_size * rows.size / inputs.n)))
    return StageVectors(X, anchor, strategy, builder.feature_names_, min_size, stage_min)


def fit_segments(inputs: SegmentInputs, settings: Any, progress: Progress) -> SegmentFit:
    """Segment the units; ``settings`` is a :class:`~cx_core.segments.run.SegmentSettings`."""
    progress(0.5, f"Building vectors for the {inputs.unit_kind}s")
    sv = build_vectors(inputs, settings)
    rows = np.flatnonzero(sv.anchor)
    pipe = make_pipeline(settings.preset, rows.size, seed=settings.seed, representation=False)
    pipe.set_params(clusterer__min_cluster_size=sv.stage_min_size)
    pipe.fit(sv.X, progress=lambda name: progress(0.55, STAGE_TEXT.get(name, name)))
    raw = pipe.clusterer_.raw_labels_
    final = pipe.clusterer_.assign_outliers_to_nearest() if settings.assign_outliers else raw.copy()
    fit = _full_arrays(inputs.n, rows, final, raw, pipe.clusterer_.probabilities_, pipe.map_2d_)
    timings = dict(pipe.timings_)
    if sv.strategy == "place":
        progress(0.8, f"Placing {inputs.n - rows.size:,} customers without reviews by behaviour")
        t0 = time.perf_counter()
        place_rest(inputs, sv.anchor, fit)
        timings["place"] = round(time.perf_counter() - t0, 3)
    config = {
        "pipeline": pipe.config_(),
        "feature_names": sv.feature_names,
        "min_segment_size": sv.min_size,
        "stage_min_cluster_size": sv.stage_min_size,
        "anchors": int(rows.size),
    }
    return SegmentFit(*fit, strategy=sv.strategy, config=config, timings=timings)


def _full_arrays(
    n: int, rows: np.ndarray, final: np.ndarray, raw: np.ndarray, prob: np.ndarray, xy: np.ndarray
) -> list[np.ndarray]:
    """Unit-length arrays with the pipeline's rows filled in (others: -1 / 0 / NaN)."""
    out = [np.full(n, -1, np.int64), np.full(n, -1, np.int64), np.zeros(n), np.full((n, 2), np.nan)]
    out[0][rows], out[1][rows], out[2][rows], out[3][rows] = final, raw, prob, xy
    return out


def place_rest(inputs: SegmentInputs, anchor: np.ndarray, fit: list[np.ndarray]) -> None:
    """Fill the non-anchor rows of ``fit`` (labels, raw labels, probability, xy; xy may hold
    NaN) by behaviour-space nearest anchors, in place."""
    Z = CustomerFeatureBuilder().fit_transform(behaviour=inputs.behaviour)
    placer = NeighbourPlacer().fit(Z[anchor], fit[0][anchor], fit[1][anchor], fit[3][anchor])
    got = placer.place(Z[~anchor])
    rest = np.flatnonzero(~anchor)
    fit[0][rest], fit[1][rest], fit[2][rest], fit[3][rest] = (
        got.labels,
        got.raw_labels,
        got.probability,
        got.xy,
    )
